/**
 * A database of its own for the calling test file, on the run's PostgreSQL server (see
 * postgres-global-setup.ts), dropped after the file.
 *
 *   const db = postgresPerFile();          // in the file's top level
 *   const pool = db.pool();                // beforeAll/inside tests
 *   startService({ env: { STORE: 'postgres', DATABASE_URL: db.url } })
 */
import { afterAll, beforeAll } from 'vitest';
import pg from 'pg';
import { createDatabase, dropDatabase, TEST_POSTGRES_URL_ENV } from '../../dev/postgres.js';

let counter = 0;

export function testServerUrl(): string {
  const url = process.env[TEST_POSTGRES_URL_ENV];
  if (!url) throw new Error(`${TEST_POSTGRES_URL_ENV} is not set: the PostgreSQL global setup did not run`);
  return url;
}

/** A fresh database name unique to this process and call. */
export function freshDatabaseName(prefix = 'tgs_test'): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}_${Date.now().toString(36)}`;
}

export interface TestDatabase {
  readonly url: string;
  /** A pool on the file's database (ended after the file). */
  pool(): pg.Pool;
  /** Another fresh database for one test (dropped after the file). */
  another(): Promise<string>;
  /** Empties the service's tables in the file's database (faster than a new database). */
  truncate(): Promise<void>;
}

export function postgresPerFile(): TestDatabase {
  const names: string[] = [];
  const pools: pg.Pool[] = [];
  let url: string | undefined;
  beforeAll(async () => {
    const name = freshDatabaseName();
    names.push(name);
    url = await createDatabase(testServerUrl(), name);
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    for (const name of names) await dropDatabase(testServerUrl(), name).catch(() => undefined);
  });
  return {
    get url() {
      if (!url) throw new Error('the test database is created in beforeAll');
      return url;
    },
    pool() {
      const p = new pg.Pool({ connectionString: this.url, max: 5 });
      p.on('error', () => undefined);
      pools.push(p);
      return p;
    },
    async truncate() {
      const client = new pg.Client({ connectionString: this.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'tgs\\_%' AND tablename <> 'tgs_schema_migrations'");
        if (rows.length > 0) await client.query(`TRUNCATE ${rows.map((r) => r.tablename).join(', ')} CASCADE`);
      } finally {
        await client.end();
      }
    },
    async another() {
      const name = freshDatabaseName();
      names.push(name);
      return createDatabase(testServerUrl(), name);
    },
  };
}
