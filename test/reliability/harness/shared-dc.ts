/**
 * Polling for reliability tests, and the old names of the helpers that start a DC and the service (now
 * startService / TEST_ENV in test/helpers/service-process.ts), kept working for tests written against them.
 */
import type { TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { startService, TEST_ENV, type ServiceProcess, type StartServiceOptions } from '../../helpers/service-process.js';
import { sleep } from '../../helpers/sandbox-service.js';

export { sandboxOf, seededRandom, sleep, uniquePhone } from '../../helpers/sandbox-service.js';

/** @deprecated TEST_ENV */
export const RELIABILITY_ENV = TEST_ENV;

/** @deprecated startService({ ...opts, dc, env: { ...TEST_ENV, ...opts.env } }) */
export function startOn(dc: TestSandbox, opts: Omit<StartServiceOptions, 'dc' | 'sandbox'> = {}): Promise<ServiceProcess> {
  return startService({ ...opts, dc, env: { ...TEST_ENV, ...opts.env } });
}

/** Polls until `check` returns a value (not undefined); throws with `what` after the deadline. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}
