/**
 * `npm run migrate-store -- files-to-postgres | postgres-to-files`: copies every account between a data
 * directory (DATA_DIR) and PostgreSQL (DATABASE_URL), keeping every login.
 *
 * The stored bytes are copied as they are — session.json (encrypted or not: no key is needed, and the same
 * SESSION_ENCRYPTION_KEY keeps opening it), auth_state.json, and the scoped tokens' hashes — so nothing is
 * re-encoded and nothing can be lost in translation. Both sides must be at rest: the data directory's lock
 * is taken, and no instance may be live on the database. An account that already exists at the target is
 * left alone and reported (nothing is overwritten), so a run can be repeated. Exit codes: 0 done, 1 refused
 * or failed, 2 usage.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { acquireDataDirLock, ensurePrivateDir, writeFileAtomic } from '@telegram-service/durable-files';
import { ACCOUNTS_DIR_NAME, createFileAccountsStore } from './files/accounts-dir.js';
import { AUTH_STATE_FILE_NAME, SESSION_BACKUP_FILE_NAME, SESSION_FILE_NAME } from './files/account-files.js';
import { readPrivateFile } from './files/safe-read.js';
import { AUTH_STATE_MAX_BYTES } from './auth-state.js';
import { SESSION_FILE_MAX_BYTES } from './session-document.js';
import { createPostgresAccountsStore } from './postgres/accounts-store.js';
import { migrate } from './postgres/migrations.js';
import { createPool } from './postgres/pool.js';
import type { StoreLog } from './types.js';

export type Direction = 'files-to-postgres' | 'postgres-to-files';

export interface MigrateOptions {
  direction: Direction;
  dataDir: string;
  databaseUrl: string;
  /** Only to say which environment's store is opened; the bytes are copied whatever it is. */
  environment?: string;
  log?: (line: string) => void;
}

export interface MigrateResult {
  copied: string[];
  /** Accounts that exist at the target already (left as they are). */
  skipped: string[];
}

const silent: StoreLog = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

export async function migrateStore(opts: MigrateOptions): Promise<MigrateResult> {
  const say = opts.log ?? (() => undefined);
  await ensurePrivateDir(opts.dataDir);
  const lock = await acquireDataDirLock(opts.dataDir);
  const pool = createPool({ connectionString: opts.databaseUrl, log: silent, max: 4, applicationName: 'telegram-service/migrate-store' });
  try {
    await migrate(pool);
    const live = await pool.query('SELECT instance_id FROM tgs_instances WHERE expires_at > clock_timestamp()');
    if (live.rowCount) {
      throw new Error(`instances are running on this database (${live.rows.map((r: { instance_id: string }) => r.instance_id).join(', ')}); stop them first`);
    }
    const environment = opts.environment ?? 'sandbox';
    const files = createFileAccountsStore({ dataDir: opts.dataDir, environment, log: silent });
    const database = createPostgresAccountsStore({ pool, environment, log: silent, migrated: true });
    const result: MigrateResult = { copied: [], skipped: [] };
    const accountsDir = path.join(opts.dataDir, ACCOUNTS_DIR_NAME);
    if (opts.direction === 'files-to-postgres') {
      for (const id of await files.open()) {
        const dir = path.join(accountsDir, id);
        const session = await readStored(path.join(dir, SESSION_FILE_NAME), SESSION_FILE_MAX_BYTES);
        const authState = await readStored(path.join(dir, AUTH_STATE_FILE_NAME), AUTH_STATE_MAX_BYTES);
        const inserted = await pool.query(
          `INSERT INTO tgs_accounts (id, session, session_saved_at, auth_state) VALUES ($1, $2, CASE WHEN $2::bytea IS NULL THEN NULL ELSE now() END, $3)
           ON CONFLICT (id) DO NOTHING`,
          [id, session, authState],
        );
        if (inserted.rowCount === 0) {
          result.skipped.push(id);
          say(`${id}: exists in the database already; left as it is`);
          continue;
        }
        await database.saveTokens(id, await files.listTokens(id));
        result.copied.push(id);
        say(`${id}: copied (${session ? 'session' : 'no session'}, ${authState ? 'auth state' : 'no auth state'})`);
      }
    } else {
      await files.open();
      const { rows } = await pool.query<{ id: string; session: Buffer | null; auth_state: Buffer | null }>('SELECT id, session, auth_state FROM tgs_accounts ORDER BY id');
      for (const row of rows) {
        if (!(await files.create(row.id))) {
          result.skipped.push(row.id);
          say(`${row.id}: exists in the data directory already; left as it is`);
          continue;
        }
        const dir = path.join(accountsDir, row.id);
        if (row.session) {
          // The last-known-good copy first: a crash in between leaves a copy, never a session without one.
          await writeFileAtomic(path.join(dir, SESSION_BACKUP_FILE_NAME), row.session);
          await writeFileAtomic(path.join(dir, SESSION_FILE_NAME), row.session);
        }
        if (row.auth_state) await writeFileAtomic(path.join(dir, AUTH_STATE_FILE_NAME), row.auth_state);
        const tokens = await database.listTokens(row.id);
        if (tokens.length > 0) await files.saveTokens(row.id, tokens);
        result.copied.push(row.id);
        say(`${row.id}: copied (${row.session ? 'session' : 'no session'}, ${row.auth_state ? 'auth state' : 'no auth state'})`);
      }
    }
    return result;
  } finally {
    await pool.end().catch(() => undefined);
    await lock.release();
  }
}

async function readStored(file: string, maxBytes: number): Promise<Buffer | null> {
  const read = await readPrivateFile(file, maxBytes);
  if (read.kind === 'absent') return null;
  if (read.kind !== 'ok') throw new Error(read.detail);
  return read.bytes;
}

/** The CLI (dist/store/migrate-store.js). */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const direction = argv[0];
  if (direction !== 'files-to-postgres' && direction !== 'postgres-to-files') {
    process.stderr.write('usage: migrate-store files-to-postgres|postgres-to-files   (DATA_DIR and DATABASE_URL from the environment)\n');
    return 2;
  }
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    process.stderr.write('migrate-store: DATABASE_URL is not set\n');
    return 2;
  }
  const dataDir = path.resolve(env.DATA_DIR ?? './data');
  try {
    await fsp.mkdir(dataDir, { recursive: true, mode: 0o700 });
    const result = await migrateStore({ direction, dataDir, databaseUrl, log: (line) => process.stdout.write(`${line}\n`) });
    process.stdout.write(`migrate-store ${direction}: ${result.copied.length} accounts copied, ${result.skipped.length} left as they were\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`migrate-store: ${(err as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2), process.env);
}
