/**
 * `npm run migrate-store -- files-to-postgres | postgres-to-files`: copies every account between a data
 * directory (DATA_DIR) and PostgreSQL (DATABASE_URL), keeping every login and everything the account has.
 *
 * The stored bytes are copied as they are — session.json (encrypted or not: no key is needed, and the same
 * SESSION_ENCRYPTION_KEY keeps opening it), auth_state.json, future_auth_tokens.json, webhook.json, the
 * scoped tokens' hashes, the Idempotency-Keys not expired yet, and the event journal event by event (sealed
 * events stay sealed, with their ids, the update state and where the dedupe keys start) — so nothing is
 * re-encoded and nothing can be lost in translation. Both sides must be at rest: the data directory's lock
 * is taken, and no instance may be live on the database. An account is copied all at once (one transaction;
 * a directory prepared under a hidden name, then renamed), and one that already exists at the target is left
 * alone and reported, so a run can be repeated. A journal is moved whole in memory, one account at a time (at
 * most EVENTS_MAX_SIZE). Exit codes: 0 done, 1 refused or failed, 2 usage.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { acquireDataDirLock, ensurePrivateDir, fsyncDir, writeFileAtomic } from '@telegram-service/durable-files';
import { ACCOUNTS_DIR_NAME, createFileAccountsStore, writeTokensFile } from './files/accounts-dir.js';
import { AUTH_STATE_FILE_NAME, SESSION_BACKUP_FILE_NAME, SESSION_FILE_NAME } from './files/account-files.js';
import { EVENTS_DIR_NAME } from './files/event-journal.js';
import { FUTURE_AUTH_TOKENS_FILE_NAME } from './files/future-auth-tokens-file.js';
import { createFileIdempotencyStore, liveRecords as fileIdempotencyRecords } from './files/idempotency-file.js';
import { dumpFileJournal, writeFileJournal } from './files/journal-copy.js';
import { readPrivateFile } from './files/safe-read.js';
import { WEBHOOK_FILE_NAME } from './files/webhook-file.js';
import { AUTH_STATE_MAX_BYTES } from './auth-state.js';
import { FUTURE_AUTH_TOKENS_MAX_BYTES } from './future-auth-tokens-document.js';
import type { JournalDump } from './journal-records.js';
import { SESSION_FILE_MAX_BYTES } from './session-document.js';
import { WEBHOOK_DOCUMENT_MAX_BYTES } from './webhook-document.js';
import { createPostgresAccountsStore, insertTokens, type PostgresAccountsStore } from './postgres/accounts-store.js';
import { dumpPostgresJournal, loadPostgresJournal } from './postgres/event-journal.js';
import { liveRecords as databaseIdempotencyRecords, putRecord } from './postgres/idempotency-store.js';
import { migrate } from './postgres/migrations.js';
import { createPool, inTransaction, type Pool } from './postgres/pool.js';
import type { IdempotencyRecord, StoreLog } from './types.js';

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
/** Where an account is prepared in the data directory before it is renamed into place (hidden: not an account). */
const STAGING_PREFIX = '.migrating-';

/** One account's stored things, as copied (the documents' exact bytes). */
interface AccountCopy {
  session: Buffer | null;
  authState: Buffer | null;
  futureAuthTokens: Buffer | null;
  webhook: Buffer | null;
  idempotencyKeys: IdempotencyRecord[];
  journal: JournalDump;
}

/** What a copy held, for the report line. */
function contents(copy: AccountCopy): string {
  const parts = [copy.session ? 'session' : 'no session', copy.authState ? 'auth state' : 'no auth state', `${copy.journal.events.length} events`];
  if (copy.futureAuthTokens) parts.push('future auth tokens');
  if (copy.webhook) parts.push('webhook');
  if (copy.idempotencyKeys.length > 0) parts.push(`${copy.idempotencyKeys.length} Idempotency-Keys`);
  return parts.join(', ');
}

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
    const inFiles = await files.open();
    const ids = opts.direction === 'files-to-postgres' ? inFiles : (await pool.query<{ id: string }>('SELECT id FROM tgs_accounts ORDER BY id')).rows.map((r) => r.id);
    for (const id of ids) {
      const copied =
        opts.direction === 'files-to-postgres'
          ? await filesToDatabase(pool, path.join(accountsDir, id), id, await files.listTokens(id))
          : inFiles.includes(id)
            ? undefined
            : await databaseToFiles(pool, database, accountsDir, id);
      if (copied) {
        result.copied.push(id);
        say(`${id}: copied (${contents(copied)})`);
      } else {
        result.skipped.push(id);
        say(`${id}: exists ${opts.direction === 'files-to-postgres' ? 'in the database' : 'in the data directory'} already; left as it is`);
      }
    }
    return result;
  } finally {
    await pool.end().catch(() => undefined);
    await lock.release();
  }
}

/** Copies the account directory `dir` into the database in one transaction; undefined when the account exists there. */
async function filesToDatabase(pool: Pool, dir: string, id: string, tokens: Awaited<ReturnType<PostgresAccountsStore['listTokens']>>): Promise<AccountCopy | undefined> {
  const copy: AccountCopy = {
    session: await readStored(path.join(dir, SESSION_FILE_NAME), SESSION_FILE_MAX_BYTES),
    authState: await readStored(path.join(dir, AUTH_STATE_FILE_NAME), AUTH_STATE_MAX_BYTES),
    futureAuthTokens: await readStored(path.join(dir, FUTURE_AUTH_TOKENS_FILE_NAME), FUTURE_AUTH_TOKENS_MAX_BYTES),
    webhook: await readStored(path.join(dir, WEBHOOK_FILE_NAME), WEBHOOK_DOCUMENT_MAX_BYTES),
    idempotencyKeys: await fileIdempotencyRecords(dir, silent),
    journal: await dumpFileJournal(path.join(dir, EVENTS_DIR_NAME)),
  };
  return inTransaction(pool, async (client) => {
    const inserted = await client.query(
      `INSERT INTO tgs_accounts (id, session, session_saved_at, auth_state, future_auth_tokens)
       VALUES ($1, $2, CASE WHEN $2::bytea IS NULL THEN NULL ELSE now() END, $3, $4)
       ON CONFLICT (id) DO NOTHING`,
      [id, copy.session, copy.authState, copy.futureAuthTokens],
    );
    if (inserted.rowCount === 0) return undefined;
    await insertTokens(client, id, tokens);
    if (copy.webhook) await client.query('INSERT INTO tgs_webhooks (account_id, document) VALUES ($1, $2)', [id, copy.webhook]);
    for (const record of copy.idempotencyKeys) await putRecord(client, id, record);
    await loadPostgresJournal(client, id, copy.journal);
    return copy;
  });
}

/** Writes the account into a hidden directory, then renames it into place. */
async function databaseToFiles(pool: Pool, database: PostgresAccountsStore, accountsDir: string, id: string): Promise<AccountCopy> {
  const { rows } = await pool.query<{ session: Buffer | null; auth_state: Buffer | null; future_auth_tokens: Buffer | null; document: Buffer | null }>(
    'SELECT a.session, a.auth_state, a.future_auth_tokens, w.document FROM tgs_accounts a LEFT JOIN tgs_webhooks w ON w.account_id = a.id WHERE a.id = $1',
    [id],
  );
  const row = rows[0]!;
  const copy: AccountCopy = {
    session: row.session,
    authState: row.auth_state,
    futureAuthTokens: row.future_auth_tokens,
    webhook: row.document,
    idempotencyKeys: await databaseIdempotencyRecords(pool, id),
    journal: await dumpPostgresJournal(pool, id),
  };
  const staging = path.join(accountsDir, `${STAGING_PREFIX}${id}`);
  await fsp.rm(staging, { recursive: true, force: true }); // left by a run that stopped half-way
  await ensurePrivateDir(staging);
  if (copy.session) {
    // The last-known-good copy too: the file store's rule is that a session never lacks one.
    await writeFileAtomic(path.join(staging, SESSION_BACKUP_FILE_NAME), copy.session);
    await writeFileAtomic(path.join(staging, SESSION_FILE_NAME), copy.session);
  }
  if (copy.authState) await writeFileAtomic(path.join(staging, AUTH_STATE_FILE_NAME), copy.authState);
  if (copy.futureAuthTokens) await writeFileAtomic(path.join(staging, FUTURE_AUTH_TOKENS_FILE_NAME), copy.futureAuthTokens);
  if (copy.webhook) await writeFileAtomic(path.join(staging, WEBHOOK_FILE_NAME), copy.webhook);
  const tokens = await database.listTokens(id);
  if (tokens.length > 0) await writeTokensFile(staging, tokens);
  if (copy.idempotencyKeys.length > 0) {
    const keys = createFileIdempotencyStore({ dir: staging, log: silent });
    for (const record of copy.idempotencyKeys) await keys.put(record);
    await keys.close();
  }
  await writeFileJournal(path.join(staging, EVENTS_DIR_NAME), copy.journal);
  await fsyncDir(staging);
  await fsp.rename(staging, path.join(accountsDir, id));
  await fsyncDir(accountsDir);
  return copy;
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
