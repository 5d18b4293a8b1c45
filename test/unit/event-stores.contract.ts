/**
 * The behaviour every WebhookStore and IdempotencyStore backend must have (src/store/types.ts), as one suite
 * per interface run against each backend (test/unit/store-backends.test.ts). `backend.storage()` gives a
 * fresh, empty place for one account and a way to open stores on it (a second store = after a restart), the
 * bytes it keeps there, and a way to damage them.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SessionFileError } from '../../src/store/errors.js';
import type { IdempotencyRecord, IdempotencyStore, WebhookRecord, WebhookStore } from '../../src/store/types.js';

export interface StorePlace<T> {
  store(opts?: { encryptionKey?: Uint8Array; now?: () => number }): T;
  /** What the backend keeps, as bytes (the file, the rows), to look for secrets in clear. */
  stored(): Promise<Buffer>;
  /** Replaces what is kept with something that is not a valid document. */
  damage(): Promise<void>;
  dispose(): Promise<void>;
}

export interface StoreBackend<T> {
  storage(): Promise<StorePlace<T>>;
}

/** Runs `test` on a fresh place, disposed of afterwards whatever happens. */
async function inPlace<T>(backend: StoreBackend<T>, test: (place: StorePlace<T>) => Promise<void>): Promise<void> {
  const place = await backend.storage();
  try {
    await test(place);
  } finally {
    await place.dispose();
  }
}

const SECRET = 'a-webhook-secret-nobody-sees';
const config = (url = 'https://hooks.example.com/a'): WebhookRecord['config'] => ({ url, secret: SECRET, setBy: 'admin', createdAt: '2025-01-01T00:00:00.000Z' });

export function webhookContract(name: string, backend: StoreBackend<WebhookStore>): void {
  describe(`WebhookStore contract: ${name}`, () => {
    it('starts without a webhook; a saved webhook and cursor are there after a restart; the cursor moves', () =>
      inPlace(backend, async (place) => {
        expect(await place.store().load()).toEqual({ config: null, deliveredId: 0 });
        await place.store().save({ config: config(), deliveredId: 7 });
        expect(await place.store().load()).toEqual({ config: config(), deliveredId: 7 });
        const store = place.store();
        await store.save({ config: config(), deliveredId: 8 });
        await store.save({ config: config(), deliveredId: 9 });
        expect(await place.store().load()).toEqual({ config: config(), deliveredId: 9 });
        await store.save({ config: null, deliveredId: 0 });
        expect(await place.store().load()).toEqual({ config: null, deliveredId: 0 });
      }));

    it('encrypted at rest: the secret is never kept in clear; without the key or with another one, load refuses', () =>
      inPlace(backend, async (place) => {
        const key = new Uint8Array(randomBytes(32));
        await place.store({ encryptionKey: key }).save({ config: config(), deliveredId: 3 });
        const bytes = await place.stored();
        expect(bytes.length).toBeGreaterThan(0);
        expect(bytes.toString('utf8')).not.toContain(SECRET);
        expect(await place.store({ encryptionKey: key }).load()).toEqual({ config: config(), deliveredId: 3 });
        for (const other of [undefined, new Uint8Array(randomBytes(32))]) {
          await expect(place.store(other ? { encryptionKey: other } : {}).load()).rejects.toBeInstanceOf(SessionFileError);
        }
        expect(await place.stored()).toEqual(bytes);
      }));

    it('a damaged document means no webhook (said, never a crash), and a new one can be set', () =>
      inPlace(backend, async (place) => {
        await place.store().save({ config: config(), deliveredId: 2 });
        await place.damage();
        expect(await place.store().load()).toEqual({ config: null, deliveredId: 0 });
        await place.store().save({ config: config('https://hooks.example.com/b'), deliveredId: 0 });
        expect((await place.store().load()).config?.url).toBe('https://hooks.example.com/b');
      }));
  });
}

const HASH = 'a'.repeat(64);
const record = (key: string, over: Partial<IdempotencyRecord> = {}): IdempotencyRecord => ({
  key,
  requestHash: HASH,
  state: 'pending',
  randomId: '-1234567890123',
  peer: 700000002,
  textHash: 'b'.repeat(64),
  createdAt: '2025-01-01T00:00:00.000Z',
  expiresAt: '2025-01-02T00:00:00.000Z',
  ...over,
});

export function idempotencyContract(name: string, backend: StoreBackend<IdempotencyStore>): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    const during = Date.parse('2025-01-01T12:00:00.000Z');

    async function opened(place: StorePlace<IdempotencyStore>, now = during): Promise<IdempotencyStore> {
      const store = place.store({ now: () => now });
      await store.open();
      return store;
    }

    /** A restart: the store closed, a new one opened on the same place. */
    async function restart(place: StorePlace<IdempotencyStore>, store: IdempotencyStore, now = during): Promise<IdempotencyStore> {
      await store.close();
      return opened(place, now);
    }

    it('keeps a key durably from put(), replaces it, removes it; others are untouched', () =>
      inPlace(backend, async (place) => {
        let store = await opened(place);
        expect(await store.get('k1')).toBeUndefined();
        await store.put(record('k1'));
        await store.put(record('k2'));
        store = await restart(place, store);
        expect(await store.get('k1')).toEqual(record('k1'));
        const done = record('k1', { state: 'done', answer: { status: 200, body: { id: 42, text: 'hi' } } });
        await store.put(done);
        store = await restart(place, store);
        expect(await store.get('k1')).toEqual(done);
        await store.remove('k1');
        await store.remove('never-there');
        store = await restart(place, store);
        expect(await store.get('k1')).toBeUndefined();
        expect(await store.get('k2')).toEqual(record('k2'));
        await store.close();
      }));

    it('tells the message ids answered in a chat, for done keys only', () =>
      inPlace(backend, async (place) => {
        let store = await opened(place);
        await store.put(record('a', { state: 'done', answer: { status: 200, body: { id: 5 } } }));
        await store.put(record('b', { state: 'done', answer: { status: 200, body: { id: 6 } } }));
        await store.put(record('c', { state: 'done', peer: 1, answer: { status: 200, body: { id: 7 } } }));
        await store.put(record('d'));
        expect([...(await store.claimedMessageIds(700000002))].sort()).toEqual([5, 6]);
        store = await restart(place, store);
        expect([...(await store.claimedMessageIds(1))]).toEqual([7]);
        expect((await store.claimedMessageIds(2)).size).toBe(0);
        await store.close();
      }));

    it('forgets a key at its expiry, and after a restart past it', () =>
      inPlace(backend, async (place) => {
        let store = await opened(place);
        await store.put(record('short', { expiresAt: '2025-01-01T12:00:01.000Z' }));
        await store.put(record('long'));
        expect(await store.get('short')).toBeDefined();
        store = await restart(place, store, Date.parse('2025-01-01T12:00:02.000Z'));
        expect(await store.get('short')).toBeUndefined();
        expect(await store.get('long')).toBeDefined();
        store = await restart(place, store, Date.parse('2025-01-03T00:00:00.000Z'));
        expect(await store.get('long')).toBeUndefined();
        await store.close();
      }));
  });
}
