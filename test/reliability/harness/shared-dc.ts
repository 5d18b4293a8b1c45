/**
 * Many real service processes on one sandbox DC that lives in the test process (so the test can read
 * login codes and drive faults through its controls).
 */
import { startService, type ServiceProcess, type StartServiceOptions } from '../../helpers/service-process.js';
import type { TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { sandboxOf } from '../../helpers/sandbox-service.js';

export { eventually, sandboxOf, seededRandom, sleep, uniquePhone } from '../../helpers/sandbox-service.js';

/** Settings for tests that log in often and want quick retries. */
export const RELIABILITY_ENV = { LOGIN_RATE_LIMIT: '0', CLIENT_READY_TIMEOUT: '5s', RETRY_MAX_DELAY: '500' } as const;

export function startOn(dc: TestSandbox, opts: Omit<StartServiceOptions, 'sandbox'> = {}): Promise<ServiceProcess> {
  return startService({ ...opts, env: { ...RELIABILITY_ENV, ...opts.env }, sandbox: sandboxOf(dc) });
}

