/**
 * The behaviour every store backend owes the account layer (store/types.ts: AccountsStore, SessionStore),
 * as one suite run against each backend (as mtcute tests all its storage implementations with one suite).
 * A backend is a factory of AccountsStores over one place (a data directory, a database): two stores from
 * the same factory see the same data, which is how "answered = durable" is checked.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionFileError } from '../../src/store/errors.js';
import type { AccountsStore, AuthStateFile, PendingLogin, SessionStore, StoreLog } from '../../src/store/types.js';

export interface StoreBackend {
  name: string;
  /** A new, empty place for accounts (called once per test). */
  freshPlace(): Promise<void>;
  /** An AccountsStore over the current place. */
  open(opts?: { environment?: string; encryptionKey?: Uint8Array }): AccountsStore;
}

export const quietLog: StoreLog = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

const authKey = (length = 256): Uint8Array => {
  const key = new Uint8Array(randomBytes(length));
  key[0] = key[0]! | 1; // never a leading zero byte: the length is what the test says
  return key;
};

const pending: PendingLogin = { phone: '+9996621234', phoneCodeHash: 'abc123', dcId: 2, codeType: 'app', codeLength: 5, sentAt: '2025-01-01T00:00:00.000Z' };
const authState = (savedAt = new Date().toISOString()): AuthStateFile => ({ user_auth: true, user_id: 700000001, phone: '+9996621234', saved_at: savedAt, version: '1.0' });

async function keyOf(storage: Awaited<ReturnType<SessionStore['createStorage']>>, dc: number): Promise<Buffer | undefined> {
  const key = await storage.authKeys.get(dc);
  return key ? Buffer.from(key) : undefined;
}

export function describeStoreContract(backend: StoreBackend): void {
  describe(`store contract: ${backend.name}`, () => {
    const sessions: SessionStore[] = [];
    afterEach(async () => {
      for (const store of sessions.splice(0)) await store.close().catch(() => undefined);
    });

    async function freshAccount(id = 'alice', opts?: Parameters<StoreBackend['open']>[0]): Promise<{ accounts: AccountsStore; session: SessionStore }> {
      await backend.freshPlace();
      const accounts = backend.open(opts);
      await accounts.open();
      expect(await accounts.create(id)).toBe(true);
      const session = accounts.sessionStore(id, quietLog);
      sessions.push(session);
      await session.load();
      return { accounts, session };
    }

    /** The same account read back by a new store over the same place (a restart). */
    async function reopen(id = 'alice', opts?: Parameters<StoreBackend['open']>[0]): Promise<SessionStore> {
      const accounts = backend.open(opts);
      await accounts.open();
      const session = accounts.sessionStore(id, quietLog);
      sessions.push(session);
      await session.load();
      return session;
    }

    it('lists accounts in order; create is false for an existing id; remove takes everything with it', async () => {
      await backend.freshPlace();
      const accounts = backend.open();
      expect(await accounts.open()).toEqual([]);
      expect(await accounts.create('bob')).toBe(true);
      expect(await accounts.create('alice')).toBe(true);
      expect(await accounts.create('bob')).toBe(false);
      expect(await backend.open().open()).toEqual(['alice', 'bob']);

      const session = accounts.sessionStore('bob', quietLog);
      sessions.push(session);
      await session.load();
      await (await session.createStorage()).authKeys.set(2, authKey());
      await session.writeAuthState(authState());
      await accounts.saveTokens('bob', [{ id: '0123456789abcdef', hash: 'a'.repeat(64), createdAt: '2025-01-01T00:00:00.000Z' }]);
      await accounts.remove('bob');
      expect(await backend.open().open()).toEqual(['alice']);
      // Created again, it is a new, empty account: nothing of the old one comes back.
      expect(await accounts.create('bob')).toBe(true);
      expect(await accounts.listTokens('bob')).toEqual([]);
      const again = await reopen('bob');
      expect(again.hasSession()).toBe(false);
      expect(again.authState()).toBeUndefined();
    });

    it('keeps token records (hashes only) across a restart; saveTokens replaces the list', async () => {
      const { accounts } = await freshAccount();
      const a = { id: '0123456789abcdef', hash: 'a'.repeat(64), createdAt: '2025-01-01T00:00:00.000Z', label: 'ci' };
      const b = { id: 'fedcba9876543210', hash: 'b'.repeat(64), createdAt: '2025-01-02T00:00:00.000Z' };
      await accounts.saveTokens('alice', [a, b]);
      expect(await backend.open().listTokens('alice')).toEqual([a, b]);
      await accounts.saveTokens('alice', [b]);
      expect(await backend.open().listTokens('alice')).toEqual([b]);
    });

    it('starts an empty account without a session', async () => {
      const { session } = await freshAccount();
      expect(session.hasSession()).toBe(false);
      expect(session.meta()).toEqual({ environment: 'sandbox' });
      expect(session.authState()).toBeUndefined();
      expect(session.persistenceError()).toBeUndefined();
    });

    it('an auth key is durable once set() resolves, byte for byte (255-byte keys too)', async () => {
      const { session } = await freshAccount();
      const storage = await session.createStorage();
      const key2 = authKey();
      const key4 = authKey(255);
      await storage.authKeys.set(2, key2);
      await storage.authKeys.set(4, key4);
      const restarted = await reopen();
      expect(restarted.hasSession()).toBe(true);
      const back = await restarted.createStorage();
      expect(await keyOf(back, 2)).toEqual(Buffer.from(key2));
      expect(await keyOf(back, 4)).toEqual(Buffer.from(key4));
    });

    it('keeps a login in progress and flood waits with the session; clearSession forgets the keys', async () => {
      const { session } = await freshAccount();
      await (await session.createStorage()).authKeys.set(2, authKey());
      await session.updateMeta({ pendingLogin: pending, floodWaits: { 'auth.sendCode': 1_900_000_000_000 } });
      let restarted = await reopen();
      expect(restarted.meta()).toEqual({ environment: 'sandbox', pendingLogin: pending, floodWaits: { 'auth.sendCode': 1_900_000_000_000 } });

      const storage = await restarted.createStorage();
      await restarted.clearSession();
      await storage.authKeys.set(2, authKey()); // the replaced storage cannot write a key back
      restarted = await reopen();
      expect(restarted.hasSession()).toBe(false);
      expect(restarted.meta()?.pendingLogin).toBeUndefined();
    });

    it('auth state: written exactly, refreshed at most once per interval, removed', async () => {
      const { session } = await freshAccount();
      const first = authState('2025-01-01T00:00:00.000Z');
      await session.writeAuthState(first);
      expect((await reopen()).authState()).toEqual(first);
      expect(await session.touchAuthState(new Date('2025-01-01T00:05:00.000Z'), 10 * 60_000)).toBe(false);
      expect(await session.touchAuthState(new Date('2025-01-01T00:11:00.000Z'), 10 * 60_000)).toBe(true);
      expect((await reopen()).authState()?.saved_at).toBe('2025-01-01T00:11:00.000Z');
      await expect(session.writeAuthState({ ...first, user_id: -1 })).rejects.toThrow(TypeError);
      await session.removeAuthState();
      expect((await reopen()).authState()).toBeUndefined();
    });

    it('concurrent writes from mtcute and meta end as one consistent document', async () => {
      const { session } = await freshAccount();
      const storage = await session.createStorage();
      const keys = [1, 2, 3, 4, 5].map(() => authKey());
      await Promise.all([
        ...keys.map((key, i) => storage.authKeys.set(i + 1, key)),
        session.updateMeta({ pendingLogin: pending }),
        session.writeAuthState(authState()),
      ]);
      const restarted = await reopen();
      const back = await restarted.createStorage();
      for (const [i, key] of keys.entries()) expect(await keyOf(back, i + 1)).toEqual(Buffer.from(key));
      expect(restarted.meta()?.pendingLogin).toEqual(pending);
      expect(restarted.authState()?.user_id).toBe(700000001);
    });

    it('encrypted at rest: the same key reads it back; a wrong or missing key refuses and overwrites nothing', async () => {
      const key = new Uint8Array(randomBytes(32));
      const { session } = await freshAccount('alice', { encryptionKey: key });
      const authKeyBytes = authKey();
      await (await session.createStorage()).authKeys.set(2, authKeyBytes);
      await session.writeAuthState(authState());

      const good = await reopen('alice', { encryptionKey: key });
      expect(await keyOf(await good.createStorage(), 2)).toEqual(Buffer.from(authKeyBytes));

      for (const opts of [{ encryptionKey: new Uint8Array(randomBytes(32)) }, {}]) {
        const accounts = backend.open(opts);
        const refused = accounts.sessionStore('alice', quietLog);
        sessions.push(refused);
        const error = await refused.load().then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(error).toBeInstanceOf(SessionFileError);
        expect((error as SessionFileError).reason).toBe(opts.encryptionKey ? 'decrypt_failed' : 'encryption_key_missing');
        // A write attempt changes nothing stored.
        await refused.removeAuthState();
        expect(refused.persistenceError()).toBeDefined();
      }
      const still = await reopen('alice', { encryptionKey: key });
      expect(still.hasSession()).toBe(true);
      expect(still.authState()).toBeDefined();
    });

    it('a stored plaintext session is encrypted once a key is configured', async () => {
      const { session } = await freshAccount();
      const bytes = authKey();
      await (await session.createStorage()).authKeys.set(2, bytes);
      const key = new Uint8Array(randomBytes(32));
      await reopen('alice', { encryptionKey: key });
      // Readable with the key, and no longer without it.
      expect(await keyOf(await (await reopen('alice', { encryptionKey: key })).createStorage(), 2)).toEqual(Buffer.from(bytes));
      const withoutKey = backend.open().sessionStore('alice', quietLog);
      sessions.push(withoutKey);
      await expect(withoutKey.load()).rejects.toMatchObject({ reason: 'encryption_key_missing' });
    });

    it("another environment's session is left untouched, said why, and set aside only when this environment writes", async () => {
      const { session } = await freshAccount('alice', { environment: 'production' });
      await (await session.createStorage()).authKeys.set(2, authKey());
      await session.writeAuthState(authState());

      const sandbox = await reopen('alice', { environment: 'sandbox' });
      expect(sandbox.hasSession()).toBe(false);
      expect(sandbox.authState()).toBeUndefined();
      expect(sandbox.loadProblem?.()?.reason).toBe('SESSION_OF_OTHER_ENVIRONMENT');
      // Untouched so far: production still reads its session.
      expect((await reopen('alice', { environment: 'production' })).hasSession()).toBe(true);

      await (await sandbox.createStorage()).authKeys.set(2, authKey());
      const ours = await reopen('alice', { environment: 'sandbox' });
      expect(ours.hasSession()).toBe(true);
      expect(ours.loadProblem?.()).toBeUndefined();
    });
  });
}
