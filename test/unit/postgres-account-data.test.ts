/**
 * What only PostgreSQL can do wrong with an account's events, webhook, Idempotency-Keys and future auth
 * tokens (the contracts both backends pass are in store-backends.test.ts): every write fenced by the lease, a
 * commit whose answer was lost never journaled twice, readers elsewhere told at commit, sealed at rest, a
 * journal moved between the backends as it is (migrate-store), and everything gone with the account.
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileEventJournal } from '../../src/store/files/event-journal.js';
import { dumpFileJournal, writeFileJournal } from '../../src/store/files/journal-copy.js';
import { JournalKeyError } from '../../src/store/journal-records.js';
import { createPostgresAccountsStore, type PostgresAccountsStore } from '../../src/store/postgres/accounts-store.js';
import { createPostgresEventJournal, dumpPostgresJournal, EVENTS_CHANNEL, loadPostgresJournal } from '../../src/store/postgres/event-journal.js';
import { FencedError, type Fence } from '../../src/store/postgres/fence.js';
import { migrate } from '../../src/store/postgres/migrations.js';
import { createPool, inTransaction, type Pool } from '../../src/store/postgres/pool.js';
import type { FutureAuthToken, JournalRetention } from '../../src/store/types.js';
import { postgresPerFile } from '../helpers/postgres.js';
import { quietLog } from '../helpers/store-contract.js';
import { event } from './event-journal.contract.js';

const db = postgresPerFile();
let pool: Pool;
beforeAll(async () => {
  pool = createPool({ connectionString: db.url, log: quietLog, max: 4 });
  await migrate(pool);
});
afterAll(async () => {
  await pool.end();
});

const RETENTION: JournalRetention = { maxBytes: 64 * 1024 * 1024, maxAgeMs: 0 };
const KEY = new Uint8Array(32).fill(3);
let counter = 0;

/** A store over the file's database (fenced by `fence` when given) and a new account in it. */
async function account(opts: { fence?: () => Fence | undefined; onFenced?: () => void; key?: Uint8Array } = {}): Promise<{ id: string; store: PostgresAccountsStore }> {
  const store = createPostgresAccountsStore({
    pool,
    environment: 'sandbox',
    log: quietLog,
    migrated: true,
    ...(opts.key ? { encryptionKey: opts.key } : {}),
    ...(opts.fence ? { fenceOf: () => opts.fence!() } : {}),
    ...(opts.onFenced ? { onFenced: () => opts.onFenced!() } : {}),
  });
  const id = `pg-data-${++counter}`;
  expect(await store.create(id)).toBe(true);
  return { id, store };
}

/** A live instance holding the account's lease at `epoch`. */
async function lease(id: string, epoch: number): Promise<Fence> {
  const holder = randomUUID();
  await pool.query("INSERT INTO tgs_instances (incarnation, instance_id, expires_at) VALUES ($1, 'test', clock_timestamp() + interval '1 hour')", [holder]);
  await pool.query(
    'INSERT INTO tgs_account_leases (account_id, holder, epoch) VALUES ($1, $2, $3) ON CONFLICT (account_id) DO UPDATE SET holder = $2, epoch = $3',
    [id, holder, epoch],
  );
  return { holder, epoch };
}

const token = (n: number): FutureAuthToken => ({ token: new Uint8Array(32).fill(n), phone: '15550000001', receivedAt: '2025-01-01T00:00:00.000Z' });

describe('PostgreSQL: an account’s events, webhook, Idempotency-Keys and future auth tokens', () => {
  it('every write is fenced: once the lease moved on, nothing more is written and the owner is told', async () => {
    let fence: Fence | undefined;
    let told = 0;
    const { id, store } = await account({ fence: () => fence, onFenced: () => told++ });
    fence = await lease(id, 1);
    const journal = store.eventJournal(id, quietLog, RETENTION);
    await journal.open();
    const webhook = store.webhookStore(id, quietLog);
    const keys = store.idempotencyStore(id, quietLog);
    await keys.open();
    const session = store.sessionStore(id, quietLog);
    await session.load();
    const config = { url: 'https://hooks.example.com/x', secret: 's'.repeat(20), setBy: 'admin' as const, createdAt: '2025-01-01T00:00:00.000Z' };
    await journal.append([event(1)]);
    await webhook.save({ config, deliveredId: 1 });
    await keys.put({ key: 'k', requestHash: 'a'.repeat(64), state: 'pending', randomId: '1', createdAt: '2025-01-01T00:00:00.000Z', expiresAt: '2999-01-01T00:00:00.000Z' });
    await session.saveFutureAuthTokens([token(1)]);
    expect(told).toBe(0);

    await lease(id, 2); // another instance took the account
    await expect(journal.append([event(2)])).rejects.toBeInstanceOf(FencedError);
    await expect(webhook.save({ config, deliveredId: 2 })).rejects.toBeInstanceOf(FencedError);
    await expect(keys.remove('k')).rejects.toBeInstanceOf(FencedError);
    await session.saveFutureAuthTokens([token(1), token(2)]); // logged, not thrown
    expect(told).toBe(4);
    fence = undefined; // this instance knows it lost the lease: refused without asking the database
    await expect(journal.append([event(3)])).rejects.toBeInstanceOf(FencedError);

    const { rows } = await pool.query<{ id: string }>('SELECT id FROM tgs_events WHERE account_id = $1', [id]);
    expect(rows.map((r) => Number(r.id))).toEqual([1]);
    expect(await store.webhookStore(id, quietLog).load()).toEqual({ config, deliveredId: 1 });
    expect(await store.idempotencyStore(id, quietLog).get('k')).toBeDefined();
    const reread = store.readOnlySessionStore(id, quietLog);
    await reread.load();
    expect(reread.futureAuthTokens()).toEqual([token(1)]);
  });

  it('a commit whose answer was lost is found by the retry (same ids, nothing twice); another writer’s events are kept', async () => {
    const { id, store } = await account();
    const stale = store.eventJournal(id, quietLog, RETENTION);
    await stale.open();
    await stale.append([event(1)]);
    // The same batch committed without the stale journal hearing of it (its answer lost on the way back).
    const other = store.eventJournal(id, quietLog, RETENTION);
    await other.open();
    const committed = await other.append([event(2), event(3)], { pts: 3, qts: 0, date: 1, seq: 0 });
    const retried = await stale.append([event(2), event(3), event(4)], { pts: 4, qts: 0, date: 1, seq: 0 });
    expect(retried.map((e) => e.id)).toEqual([2, 3, 4]);
    expect(retried.slice(0, 2)).toEqual(committed);
    // Something else entirely took id 5: it is kept, and this batch goes after it.
    await other.close();
    const third = store.eventJournal(id, quietLog, RETENTION);
    await third.open();
    await third.append([event(50)]);
    expect((await stale.append([event(6)])).map((e) => e.id)).toEqual([6]);

    const reopened = store.eventJournal(id, quietLog, RETENTION);
    const opened = await reopened.open();
    expect(opened).toMatchObject({ firstId: 1, lastId: 6, updateState: { pts: 4 } });
    expect((await reopened.read(0, 100)).map((e) => e.key)).toEqual(['n:1:1', 'n:1:2', 'n:1:3', 'n:1:4', 'n:1:50', 'n:1:6']);
  });

  it('readers on other instances are told at commit and read what is committed', async () => {
    const { id, store } = await account();
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
    try {
      const reader = store.journalReader(id);
      expect(await reader.refresh()).toBe(true);
      expect(reader.bounds()).toEqual({ firstId: 1, lastId: 0 });
      const journal = store.eventJournal(id, quietLog, RETENTION);
      await journal.open();
      await journal.append([], { pts: 1, qts: 0, date: 1, seq: 0 }); // a state alone: nothing to read, nobody told
      await journal.append([event(1), event(2)]);
      await expect.poll(() => heard).toEqual([id]);
      expect(reader.bounds().lastId).toBe(0); // as of the last refresh
      await reader.refresh();
      expect(reader.bounds()).toEqual({ firstId: 1, lastId: 2 });
      expect(await reader.read(0, 10)).toEqual(await journal.read(0, 10));
      expect((await reader.read(1, 10)).map((e) => e.id)).toEqual([2]);
      await store.remove(id);
      expect(await reader.refresh()).toBe(false);
    } finally {
      await listener.end();
    }
  });

  it('sealed at rest with the key: no text in the rows; another key or none is refused, nothing touched', async () => {
    const { id, store } = await account({ key: KEY });
    const journal = store.eventJournal(id, quietLog, RETENTION);
    await journal.open();
    await journal.append([{ type: 'message.new', key: 'n:9:1', at: '2025-01-01T00:00:00.000Z', data: { message: { id: 1, text: 'a very private text' } } }]);
    const session = store.sessionStore(id, quietLog);
    await session.load();
    await session.saveFutureAuthTokens([token(9)]);
    const dump = async (): Promise<string> =>
      JSON.stringify((await pool.query('SELECT e.*, a.future_auth_tokens FROM tgs_events e JOIN tgs_accounts a ON a.id = e.account_id WHERE a.id = $1', [id])).rows);
    const before = await dump();
    expect(before).not.toContain('private');
    expect(before).not.toContain('n:9:1');
    expect(before).not.toContain(Buffer.from(token(9).token).toString('base64'));
    for (const other of [undefined, new Uint8Array(32).fill(4)]) {
      const elsewhere = createPostgresAccountsStore({ pool, environment: 'sandbox', log: quietLog, ...(other ? { encryptionKey: other } : {}) });
      await expect(elsewhere.eventJournal(id, quietLog, RETENTION).open()).rejects.toBeInstanceOf(JournalKeyError);
    }
    expect(await dump()).toBe(before);
    const again = store.eventJournal(id, quietLog, RETENTION);
    await again.open();
    expect((await again.read(0, 1))[0]?.data).toEqual({ message: { id: 1, text: 'a very private text' } });
    const reread = store.sessionStore(id, quietLog);
    await reread.load();
    expect(reread.futureAuthTokens()).toEqual([token(9)]);
  });

  it('a journal moves between the backends as it is: ids, sealed events, the update state, where the keys restart', async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'journal-copy-'));
    try {
      const fileJournal = (dir: string) => createFileEventJournal({ dir, log: quietLog, retention: RETENTION, encryptionKey: KEY });
      const original = fileJournal(path.join(root, 'a'));
      await original.open();
      await original.append([event(1), event(2)], { pts: 2, qts: 0, date: 1, seq: 0 });
      await original.append([], null); // a reset: the keys restart after id 2
      await original.append([event(3)], { pts: 3, qts: 0, date: 1, seq: 0 });
      const events = await original.read(0, 10);
      await original.close();

      const fromFiles = await dumpFileJournal(path.join(root, 'a')); // no key needed
      expect(fromFiles).toMatchObject({ firstId: 1, lastId: 3, keysFrom: 2, updateState: { pts: 3 } });
      expect(fromFiles.events.every((e) => e.sealed)).toBe(true);
      const { id, store } = await account({ key: KEY });
      await inTransaction(pool, (client) => loadPostgresJournal(client, id, fromFiles));
      const inPostgres = store.eventJournal(id, quietLog, RETENTION);
      expect(await inPostgres.open()).toEqual({ firstId: 1, lastId: 3, updateState: { pts: 3, qts: 0, date: 1, seq: 0 }, recentKeys: ['n:1:3'] });
      expect(await inPostgres.read(0, 10)).toEqual(events);

      const fromPostgres = await dumpPostgresJournal(pool, id);
      expect(fromPostgres.events.map((e) => e.writtenAt)).toEqual(fromFiles.events.map((e) => e.writtenAt));
      await writeFileJournal(path.join(root, 'b'), fromPostgres);
      const back = fileJournal(path.join(root, 'b'));
      expect(await back.open()).toEqual({ firstId: 1, lastId: 3, updateState: { pts: 3, qts: 0, date: 1, seq: 0 }, recentKeys: ['n:1:3'] });
      expect(await back.read(0, 10)).toEqual(events);
      expect((await back.append([event(4)]))[0]!.id).toBe(4);
      await back.close();
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });

  it('retention removes more old events than one statement deletes, in several', async () => {
    let now = 1_000_000;
    const { id } = await account();
    const journal = createPostgresEventJournal({ pool, accountId: id, log: quietLog, retention: { maxBytes: 64 * 1024 * 1024, maxAgeMs: 60_000 }, now: () => now });
    await journal.open();
    for (let batch = 0; batch < 20; batch++) await journal.append(Array.from({ length: 500 }, (_, i) => event(batch * 500 + i)));
    now += 120_000;
    await journal.applyRetention(now);
    expect(journal.bounds()).toEqual({ firstId: 10_001, lastId: 10_000 });
    expect((await pool.query('SELECT count(*)::int AS n FROM tgs_events WHERE account_id = $1', [id])).rows[0].n).toBe(0);
    expect((await journal.append([event(1)]))[0]!.id).toBe(10_001);
  });

  it('future auth tokens outlive the session; deleting the account removes everything it had', async () => {
    const { id, store } = await account();
    const session = store.sessionStore(id, quietLog);
    await session.load();
    await session.saveFutureAuthTokens([token(1), token(2)]);
    await session.clearSession();
    const after = store.sessionStore(id, quietLog);
    await after.load();
    expect(after.futureAuthTokens()).toEqual([token(1), token(2)]);

    const journal = store.eventJournal(id, quietLog, RETENTION);
    await journal.open();
    await journal.append([event(1)], { pts: 1, qts: 0, date: 1, seq: 0 });
    await store.webhookStore(id, quietLog).save({ config: null, deliveredId: 0 });
    await store.idempotencyStore(id, quietLog).put({ key: 'k', requestHash: 'a'.repeat(64), state: 'pending', randomId: '1', createdAt: 'x', expiresAt: '2999-01-01T00:00:00.000Z' });
    await store.remove(id);
    for (const table of ['tgs_events', 'tgs_event_journals', 'tgs_webhooks', 'tgs_idempotency_keys']) {
      expect((await pool.query(`SELECT 1 FROM ${table} WHERE account_id = $1`, [id])).rowCount, table).toBe(0);
    }
  });
});
