/**
 * The PostgreSQL backend of IdempotencyStore: a row of tgs_idempotency_keys per key (the record as the file
 * keeps it, idempotency-record.ts, and its expiry). A put is answered once committed; writes are fenced by the
 * account's lease and run one at a time, in order. Expired keys are never answered and are deleted at open and
 * with the writes.
 */
import { claimedMessageId, idempotencyRecordOf } from '../idempotency-record.js';
import { SerialQueue } from '../serial-queue.js';
import type { IdempotencyRecord, IdempotencyStore, StoreLog } from '../types.js';
import type { PoolClient } from 'pg';
import { fencedTransaction, type FencedTarget } from './fence.js';
import type { Pool } from './pool.js';

export interface PostgresIdempotencyStoreOptions extends FencedTarget {
  log: StoreLog;
  now?: () => number;
}

const DELETE_EXPIRED = 'DELETE FROM tgs_idempotency_keys WHERE account_id = $1 AND expires_at <= $2';

export function createPostgresIdempotencyStore(opts: PostgresIdempotencyStoreOptions): IdempotencyStore {
  const now = (): Date => new Date((opts.now ?? Date.now)());
  const writes = new SerialQueue(async () => undefined);
  const live = async (where: string, params: unknown[]): Promise<IdempotencyRecord[]> => {
    const { rows } = await opts.pool.query<{ record: unknown }>(`SELECT record FROM tgs_idempotency_keys WHERE account_id = $1 AND expires_at > $2 ${where}`, [
      opts.accountId,
      now(),
      ...params,
    ]);
    return rows.flatMap((row) => idempotencyRecordOf(row.record) ?? []);
  };
  return {
    async open() {
      // Best effort: an expired key is never answered anyway.
      await writes.run(() => fencedTransaction(opts, (client) => client.query(DELETE_EXPIRED, [opts.accountId, now()]))).catch(() => undefined);
    },

    async get(key) {
      return (await live('AND key = $3', [key]))[0];
    },

    put(record) {
      const copy = structuredClone(record);
      return writes.run(() =>
        fencedTransaction(opts, async (client) => {
          await putRecord(client, opts.accountId, copy);
          await client.query(DELETE_EXPIRED, [opts.accountId, now()]);
        }),
      );
    },

    async remove(key) {
      await writes.run(() => fencedTransaction(opts, (client) => client.query('DELETE FROM tgs_idempotency_keys WHERE account_id = $1 AND key = $2', [opts.accountId, key])));
    },

    async claimedMessageIds(peer) {
      const records = await live("AND record->>'state' = 'done' AND record->>'peer' = $3", [String(peer)]);
      return new Set(records.flatMap((record) => claimedMessageId(record, peer) ?? []));
    },

    async close() {
      await writes.idle();
    },
  };
}

/** Stores (or replaces) the key's record, in the caller's transaction. */
export async function putRecord(client: PoolClient, accountId: string, record: IdempotencyRecord): Promise<void> {
  await client.query(
    `INSERT INTO tgs_idempotency_keys (account_id, key, record, expires_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (account_id, key) DO UPDATE SET record = EXCLUDED.record, expires_at = EXCLUDED.expires_at`,
    [accountId, record.key, JSON.stringify(record), new Date(record.expiresAt)],
  );
}

/** Every key of the account not expired yet (migrate-store). */
export async function liveRecords(pool: Pool, accountId: string): Promise<IdempotencyRecord[]> {
  const { rows } = await pool.query<{ record: unknown }>('SELECT record FROM tgs_idempotency_keys WHERE account_id = $1 AND expires_at > now() ORDER BY key', [accountId]);
  return rows.flatMap((row) => idempotencyRecordOf(row.record) ?? []);
}
