/**
 * The PostgreSQL backend of AccountsStore: an account is a row of tgs_accounts; its tokens, event journal,
 * webhook and Idempotency-Keys are rows of their own tables; removing the account removes all of it (ON
 * DELETE CASCADE) in one statement. Every method answers after its transaction committed; every write of an
 * account is fenced by its lease (fence.ts) when the store is given one.
 */
import type { AccountsStore, EventJournalReader, ScopedTokenRecord, StoreLog } from '../types.js';
import { createPostgresEventJournal, PostgresJournalReader } from './event-journal.js';
import type { Fence, FencedTarget } from './fence.js';
import { createPostgresIdempotencyStore } from './idempotency-store.js';
import { migrate } from './migrations.js';
import type { PoolClient } from 'pg';
import { inTransaction, type Pool } from './pool.js';
import { PostgresSessionStore } from './session-store.js';
import { createPostgresWebhookStore } from './webhook-store.js';

export interface PostgresAccountsStoreOptions {
  pool: Pool;
  environment: string;
  log: StoreLog;
  encryptionKey?: Uint8Array;
  /** Cluster: the lease each account's writes must hold (see PostgresSessionStore). Absent: unfenced. */
  fenceOf?: (accountId: string) => Fence | undefined;
  /** Cluster: a write of the account was refused by its fence. */
  onFenced?: (accountId: string) => void;
  /** Skip the migrations at open (they ran already). */
  migrated?: boolean;
}

export interface TokenOwner {
  accountId: string;
  record: ScopedTokenRecord;
}

export interface PostgresAccountsStore extends AccountsStore {
  /** The account a scoped token id belongs to, with its stored hash. */
  findToken(tokenId: string): Promise<TokenOwner | undefined>;
  exists(id: string): Promise<boolean>;
  /** Account ids after `after` (exclusive), in order, at most `limit`. */
  listIds(limit: number, after?: string): Promise<string[]>;
  sessionStore(id: string, log: StoreLog): PostgresSessionStore;
  /** The account's store for reading only (its status while another instance holds it). */
  readOnlySessionStore(id: string, log: StoreLog): PostgresSessionStore;
  /** The account's committed events, for reading only (served by an instance that does not hold it). */
  journalReader(id: string): EventJournalReader;
}

interface TokenRow {
  id: string;
  account_id: string;
  hash: string;
  created_at: string;
  label: string | null;
}

function toRecord(row: TokenRow): ScopedTokenRecord {
  return { id: row.id, hash: row.hash, createdAt: row.created_at, ...(row.label !== null ? { label: row.label } : {}) };
}

export function createPostgresAccountsStore(opts: PostgresAccountsStoreOptions): PostgresAccountsStore {
  const { pool } = opts;
  const key = opts.encryptionKey ? { encryptionKey: opts.encryptionKey } : {};
  /** Where the account's writes go, under its lease. */
  const target = (id: string): FencedTarget => ({
    pool,
    accountId: id,
    ...(opts.fenceOf ? { fence: () => opts.fenceOf!(id) } : {}),
    ...(opts.onFenced ? { onFenced: () => opts.onFenced!(id) } : {}),
  });
  return {
    async open() {
      if (!opts.migrated) await migrate(pool);
      const { rows } = await pool.query<{ id: string }>('SELECT id FROM tgs_accounts ORDER BY id');
      return rows.map((r) => r.id);
    },

    async create(id) {
      const result = await pool.query('INSERT INTO tgs_accounts (id) VALUES ($1) ON CONFLICT (id) DO NOTHING', [id]);
      return result.rowCount === 1;
    },

    async remove(id) {
      await pool.query('DELETE FROM tgs_accounts WHERE id = $1', [id]);
    },

    sessionStore(id, log) {
      return new PostgresSessionStore({ ...target(id), environment: opts.environment, log, ...key });
    },

    readOnlySessionStore(id, log) {
      return new PostgresSessionStore({ pool, accountId: id, environment: opts.environment, log, readOnly: true, ...key });
    },

    eventJournal(id, log, retention) {
      return createPostgresEventJournal({ ...target(id), log, retention, ...key });
    },

    journalReader(id) {
      return new PostgresJournalReader({ pool, accountId: id, ...key });
    },

    webhookStore(id, log) {
      return createPostgresWebhookStore({ ...target(id), log, ...key });
    },

    idempotencyStore(id, log) {
      return createPostgresIdempotencyStore({ ...target(id), log });
    },

    async listTokens(id) {
      const { rows } = await pool.query<TokenRow>('SELECT id, account_id, hash, created_at, label FROM tgs_tokens WHERE account_id = $1 ORDER BY created_at, id', [id]);
      return rows.map(toRecord);
    },

    async saveTokens(id, tokens) {
      await inTransaction(pool, async (client) => {
        await client.query('DELETE FROM tgs_tokens WHERE account_id = $1', [id]);
        await insertTokens(client, id, tokens);
      });
    },

    async findToken(tokenId) {
      const { rows } = await pool.query<TokenRow>('SELECT id, account_id, hash, created_at, label FROM tgs_tokens WHERE id = $1', [tokenId]);
      const row = rows[0];
      return row ? { accountId: row.account_id, record: toRecord(row) } : undefined;
    },

    async exists(id) {
      const { rowCount } = await pool.query('SELECT 1 FROM tgs_accounts WHERE id = $1', [id]);
      return rowCount === 1;
    },

    async listIds(limit, after) {
      const { rows } = await pool.query<{ id: string }>(
        after === undefined ? 'SELECT id FROM tgs_accounts ORDER BY id LIMIT $1' : 'SELECT id FROM tgs_accounts WHERE id > $2 ORDER BY id LIMIT $1',
        after === undefined ? [limit] : [limit, after],
      );
      return rows.map((r) => r.id);
    },
  };
}

/** Adds the account's token records (hashes only), in the caller's transaction. */
export async function insertTokens(client: PoolClient, accountId: string, tokens: ScopedTokenRecord[]): Promise<void> {
  for (const token of tokens) {
    await client.query('INSERT INTO tgs_tokens (id, account_id, hash, created_at, label) VALUES ($1, $2, $3, $4, $5)', [token.id, accountId, token.hash, token.createdAt, token.label ?? null]);
  }
}
