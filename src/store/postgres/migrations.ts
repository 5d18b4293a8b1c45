/**
 * The PostgreSQL schema, as numbered migrations applied at start. Several instances starting at once
 * serialize on one transaction-level advisory lock: the first applies what is missing, the others then
 * find nothing left to do. Each migration runs in its own transaction with its row in
 * tgs_schema_migrations, so a crash leaves either all of it or none.
 *
 * Tables (prefix tgs_, so the service can share a database with others):
 *   tgs_accounts        one row per account: session (the session.json document's exact bytes, encrypted
 *                       when SESSION_ENCRYPTION_KEY is set) and auth_state (auth_state.json's exact bytes)
 *   tgs_tokens          scoped tokens: id, account, SHA-256 of the secret (never the token)
 *   tgs_set_aside       documents that could not be used (damaged, another environment's), kept, never read
 *   tgs_instances       live service instances: one row per incarnation, its advertised URL and lease expiry
 *   tgs_account_leases  which incarnation holds each account live, its fencing epoch, its last status
 *   (2) tgs_accounts.future_auth_tokens  future_auth_tokens.json's exact bytes (encrypted with the key)
 *   tgs_event_journals  per account: the retained ids, their size, the update state journaled after the
 *                       events it covers, and where the dedupe keys start (after the last reset)
 *   tgs_events          the event journal: a row per event (id, when written, its size as the file journal
 *                       counts it; type, dedupe key, at and data in clear — or sealed, journal-records.ts)
 *   tgs_webhooks        webhook.json's exact bytes: url, secret, who set it, last acknowledged id (encrypted)
 *   tgs_idempotency_keys  Idempotency-Keys of POST …/messages, each until it expires
 * Everything of an account goes with its tgs_accounts row (ON DELETE CASCADE).
 */
import type { Pool, PoolClient } from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Any 64-bit number of our own: the advisory lock that serializes migrations across instances. */
const MIGRATION_LOCK_KEY = 0x7467_7376_6d69_67n; // "tgsvmig"

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, tokens, instances, leases',
    sql: `
      CREATE TABLE tgs_accounts (
        id               text PRIMARY KEY,
        created_at       timestamptz NOT NULL DEFAULT now(),
        session          bytea,
        session_saved_at timestamptz,
        auth_state       bytea
      );
      CREATE TABLE tgs_tokens (
        id         text PRIMARY KEY,
        account_id text NOT NULL REFERENCES tgs_accounts (id) ON DELETE CASCADE,
        hash       text NOT NULL,
        created_at text NOT NULL,
        label      text
      );
      CREATE INDEX tgs_tokens_account ON tgs_tokens (account_id);
      CREATE TABLE tgs_set_aside (
        id         bigserial PRIMARY KEY,
        account_id text NOT NULL,
        what       text NOT NULL,
        reason     text NOT NULL,
        document   bytea NOT NULL,
        at         timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE tgs_instances (
        incarnation text PRIMARY KEY,
        instance_id text NOT NULL,
        url         text,
        started_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL
      );
      CREATE TABLE tgs_account_leases (
        account_id  text PRIMARY KEY REFERENCES tgs_accounts (id) ON DELETE CASCADE,
        holder      text,
        epoch       bigint NOT NULL DEFAULT 0,
        acquired_at timestamptz,
        status      jsonb
      );
      CREATE INDEX tgs_account_leases_holder ON tgs_account_leases (holder);
    `,
  },
  {
    version: 2,
    name: 'future auth tokens, event journal, webhooks, Idempotency-Keys',
    sql: `
      ALTER TABLE tgs_accounts ADD COLUMN future_auth_tokens bytea;
      CREATE TABLE tgs_event_journals (
        account_id   text PRIMARY KEY REFERENCES tgs_accounts (id) ON DELETE CASCADE,
        first_id     bigint NOT NULL DEFAULT 1,
        last_id      bigint NOT NULL DEFAULT 0,
        bytes        bigint NOT NULL DEFAULT 0,
        keys_from    bigint NOT NULL DEFAULT 0,
        update_state jsonb
      );
      CREATE TABLE tgs_events (
        account_id text NOT NULL REFERENCES tgs_accounts (id) ON DELETE CASCADE,
        id         bigint NOT NULL,
        written_at timestamptz NOT NULL,
        size       integer NOT NULL,
        type       text,
        key        text,
        at         text,
        data       json,
        sealed     bytea,
        PRIMARY KEY (account_id, id),
        CHECK ((sealed IS NULL) = (type IS NOT NULL AND key IS NOT NULL AND at IS NOT NULL AND data IS NOT NULL))
      );
      CREATE TABLE tgs_webhooks (
        account_id text PRIMARY KEY REFERENCES tgs_accounts (id) ON DELETE CASCADE,
        document   bytea NOT NULL
      );
      CREATE TABLE tgs_idempotency_keys (
        account_id text NOT NULL REFERENCES tgs_accounts (id) ON DELETE CASCADE,
        key        text NOT NULL,
        record     json NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (account_id, key)
      );
      CREATE INDEX tgs_idempotency_keys_expiry ON tgs_idempotency_keys (account_id, expires_at);
    `,
  },
];

/** Applies the migrations this database lacks; returns the versions applied now. */
export async function migrate(pool: Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const client = await pool.connect();
  try {
    const applied: number[] = [];
    for (const migration of migrations) {
      if (await applyOne(client, migration)) applied.push(migration.version);
    }
    return applied;
  } finally {
    client.release();
  }
}

async function applyOne(client: PoolClient, migration: Migration): Promise<boolean> {
  await client.query('BEGIN');
  try {
    // Held until COMMIT/ROLLBACK: one instance at a time decides and applies.
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS tgs_schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = await client.query('SELECT 1 FROM tgs_schema_migrations WHERE version = $1', [migration.version]);
    if (done.rowCount) {
      await client.query('COMMIT');
      return false;
    }
    await client.query(migration.sql);
    await client.query('INSERT INTO tgs_schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
