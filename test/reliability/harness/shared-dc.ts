/**
 * Many real service processes on one sandbox DC that lives in the test process (so the test can read
 * login codes and drive faults through its controls).
 */
import { startService, type ServiceProcess, type StartServiceOptions } from '../../helpers/service-process.js';
import type { TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { sandboxOf, sleep } from '../../helpers/sandbox-service.js';

export { sandboxOf, seededRandom, sleep, uniquePhone } from '../../helpers/sandbox-service.js';

/** Settings for tests that log in often and want quick retries. */
export const RELIABILITY_ENV = { LOGIN_RATE_LIMIT: '0', CLIENT_READY_TIMEOUT: '10s', RETRY_MAX_DELAY: '500' } as const;

export function startOn(dc: TestSandbox, opts: Omit<StartServiceOptions, 'sandbox'> = {}): Promise<ServiceProcess> {
  return startService({ ...opts, env: { ...RELIABILITY_ENV, ...opts.env }, sandbox: sandboxOf(dc) });
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
