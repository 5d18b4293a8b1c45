/**
 * One contract, every backend: the file backend and PostgreSQL pass the same store suites — sessions and
 * accounts (store-contract.ts), the event journal (event-journal.contract.ts; the files run it in
 * event-journal-files.test.ts, beside what only files can do wrong), webhooks and Idempotency-Keys
 * (event-stores.contract.ts).
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { createFileAccountsStore } from '../../src/store/files/accounts-dir.js';
import { createFileIdempotencyStore, IDEMPOTENCY_FILE_NAME } from '../../src/store/files/idempotency-file.js';
import { createFileWebhookStore, WEBHOOK_FILE_NAME } from '../../src/store/files/webhook-file.js';
import { createPostgresAccountsStore } from '../../src/store/postgres/accounts-store.js';
import { createPostgresEventJournal } from '../../src/store/postgres/event-journal.js';
import { createPostgresIdempotencyStore } from '../../src/store/postgres/idempotency-store.js';
import { migrate } from '../../src/store/postgres/migrations.js';
import { createPool, type Pool } from '../../src/store/postgres/pool.js';
import { createPostgresWebhookStore } from '../../src/store/postgres/webhook-store.js';
import { postgresPerFile } from '../helpers/postgres.js';
import { describeStoreContract, quietLog } from '../helpers/store-contract.js';
import { journalContract } from './event-journal.contract.js';
import { idempotencyContract, webhookContract, type StorePlace } from './event-stores.contract.js';

const dirs: string[] = [];
let dataDir = '';
afterAll(async () => {
  for (const dir of dirs) await fsp.rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'store-contract-'));
  dirs.push(root);
  return root;
}

describeStoreContract({
  name: 'files',
  async freshPlace() {
    dataDir = path.join(await tempDir(), 'data');
  },
  open: (opts = {}) => createFileAccountsStore({ dataDir, environment: opts.environment ?? 'sandbox', log: quietLog, ...(opts.encryptionKey ? { encryptionKey: opts.encryptionKey } : {}) }),
});

const db = postgresPerFile();
const pools: Pool[] = [];
let url = '';
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});

describeStoreContract({
  name: 'postgres',
  async freshPlace() {
    url = db.url;
    await db.truncate();
  },
  open(opts = {}) {
    const pool = createPool({ connectionString: url, log: quietLog, max: 4 });
    pools.push(pool);
    return createPostgresAccountsStore({ pool, environment: opts.environment ?? 'sandbox', log: quietLog, ...(opts.encryptionKey ? { encryptionKey: opts.encryptionKey } : {}) });
  },
});

// ───────────── the event journal, webhooks and Idempotency-Keys: one account's row each time ─────────────

let shared: Pool | undefined;
let accounts = 0;
/** A pool on the file's database (schema migrated) and a new, empty account in it. */
async function freshAccount(): Promise<{ pool: Pool; accountId: string }> {
  if (!shared) {
    shared = createPool({ connectionString: db.url, log: quietLog, max: 4 });
    pools.push(shared);
    await migrate(shared);
  }
  const accountId = `contract-${++accounts}`;
  await shared.query('INSERT INTO tgs_accounts (id) VALUES ($1)', [accountId]);
  return { pool: shared, accountId };
}

const removeAccount = async (pool: Pool, accountId: string): Promise<void> => {
  await pool.query('DELETE FROM tgs_accounts WHERE id = $1', [accountId]);
};

for (const [name, key] of [
  ['postgres', undefined],
  ['postgres, encrypted at rest', new Uint8Array(32).fill(7)],
] as const) {
  journalContract(name, {
    async storage() {
      const { pool, accountId } = await freshAccount();
      return {
        journal: ({ retention, now }) => createPostgresEventJournal({ pool, accountId, log: quietLog, retention, now, ...(key ? { encryptionKey: key } : {}) }),
        dispose: () => removeAccount(pool, accountId),
      };
    },
  });
}

/** A file of the account's directory as a place. */
function filePlace<T>(dir: string, file: string, open: StorePlace<T>['store']): StorePlace<T> {
  return {
    store: open,
    stored: () => fsp.readFile(path.join(dir, file)),
    damage: () => fsp.writeFile(path.join(dir, file), '{"version":1,"config":', { mode: 0o600 }),
    dispose: () => fsp.rm(dir, { recursive: true, force: true }),
  };
}

webhookContract('files', {
  async storage() {
    const dir = await tempDir();
    return filePlace(dir, WEBHOOK_FILE_NAME, (opts = {}) => createFileWebhookStore({ dir, log: quietLog, ...opts }));
  },
});

webhookContract('postgres', {
  async storage() {
    const { pool, accountId } = await freshAccount();
    return {
      store: (opts = {}) => createPostgresWebhookStore({ pool, accountId, log: quietLog, ...(opts.encryptionKey ? { encryptionKey: opts.encryptionKey } : {}) }),
      stored: async () => (await pool.query<{ document: Buffer }>('SELECT document FROM tgs_webhooks WHERE account_id = $1', [accountId])).rows[0]?.document ?? Buffer.alloc(0),
      damage: async () => {
        await pool.query("UPDATE tgs_webhooks SET document = '\\x7b2276657273696f6e223a31' WHERE account_id = $1", [accountId]);
      },
      dispose: () => removeAccount(pool, accountId),
    };
  },
});

idempotencyContract('files', {
  async storage() {
    const dir = await tempDir();
    return filePlace(dir, IDEMPOTENCY_FILE_NAME, (opts = {}) => createFileIdempotencyStore({ dir, log: quietLog, ...(opts.now ? { now: opts.now } : {}) }));
  },
});

idempotencyContract('postgres', {
  async storage() {
    const { pool, accountId } = await freshAccount();
    return {
      store: (opts = {}) => createPostgresIdempotencyStore({ pool, accountId, log: quietLog, ...(opts.now ? { now: opts.now } : {}) }),
      stored: async () => Buffer.from(JSON.stringify((await pool.query('SELECT record FROM tgs_idempotency_keys WHERE account_id = $1', [accountId])).rows)),
      damage: async () => undefined,
      dispose: () => removeAccount(pool, accountId),
    };
  },
});
