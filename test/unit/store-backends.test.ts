/** One contract, every backend: the file backend and PostgreSQL pass the same store suite. */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { createFileAccountsStore } from '../../src/store/files/accounts-dir.js';
import { createPostgresAccountsStore } from '../../src/store/postgres/accounts-store.js';
import { createPool, type Pool } from '../../src/store/postgres/pool.js';
import { postgresPerFile } from '../helpers/postgres.js';
import { describeStoreContract, quietLog } from '../helpers/store-contract.js';

const dirs: string[] = [];
let dataDir = '';
afterAll(async () => {
  for (const dir of dirs) await fsp.rm(dir, { recursive: true, force: true });
});

describeStoreContract({
  name: 'files',
  async freshPlace() {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'store-contract-'));
    dirs.push(root);
    dataDir = path.join(root, 'data');
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
