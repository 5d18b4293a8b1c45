/**
 * The connection pool to PostgreSQL (node-postgres). Every query is bounded in time: a database that
 * stops answering (a partition, a restart) turns into an error the caller handles — retried writes,
 * a lapsed lease — never a hang.
 */
import pg from 'pg';
import type { StoreLog } from '../types.js';

export type { Pool } from 'pg';

export interface PoolOptions {
  connectionString: string;
  log: StoreLog;
  /** Connections at most (default 10). */
  max?: number;
  /** How long one query may take, including waiting for a connection (ms, default 5 s). */
  queryTimeoutMs?: number;
  /** application_name, so an operator can tell instances apart in pg_stat_activity. */
  applicationName?: string;
}

export function createPool(opts: PoolOptions): pg.Pool {
  const queryTimeoutMs = opts.queryTimeoutMs ?? 5000;
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    connectionTimeoutMillis: queryTimeoutMs,
    query_timeout: queryTimeoutMs,
    idleTimeoutMillis: 10_000,
    keepAlive: true,
    // The server's side of the same bounds: a statement that runs away, and a transaction whose client
    // stalled (a frozen process holding a lease row lock would block every take-over), are ended by it.
    statement_timeout: queryTimeoutMs,
    idle_in_transaction_session_timeout: 2000,
    ...(opts.applicationName ? { application_name: opts.applicationName.slice(0, 63) } : {}),
  });
  // An idle connection that dies (a database restart) is reported here; without a listener it would crash
  // the process. The next query opens a new connection.
  pool.on('error', (err) => opts.log.warn({ code: pgErrorCode(err) }, 'A PostgreSQL connection was lost; the next query reconnects'));
  return pool;
}

/** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** A short code for an error of the database or its connection (SQLSTATE, errno, or a word). */
export function pgErrorCode(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && e.code !== '') return e.code;
  const message = typeof e?.message === 'string' ? e.message : '';
  if (/timeout/i.test(message)) return 'ETIMEDOUT';
  if (/terminat|Connection terminated/i.test(message)) return 'ECONNRESET';
  return 'EDB';
}

/** The database's message without anything of ours in it (queries carry key material as parameters, never in text). */
export function pgErrorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.slice(0, 300);
}
