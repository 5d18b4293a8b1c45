/**
 * Many real service processes on one sandbox DC that lives in the test process (so the test can read
 * login codes and drive faults through its controls).
 */
import { startService, type ServiceProcess, type StartServiceOptions } from '../../helpers/service-process.js';
import type { TestSandbox } from '../../helpers/sandbox.js';

/** Settings for tests that log in often and want quick retries. */
export const RELIABILITY_ENV = { LOGIN_RATE_LIMIT: '0', CLIENT_READY_TIMEOUT: '5s', RETRY_MAX_DELAY: '500' } as const;

export function sandboxOf(dc: TestSandbox): NonNullable<StartServiceOptions['sandbox']> {
  const dc2 = dc.dcs.find((d) => d.id === 2)!;
  return { host: dc2.host, port: dc2.port, publicKeyPem: dc.publicKeyPem };
}

export function startOn(dc: TestSandbox, opts: Omit<StartServiceOptions, 'sandbox'> = {}): Promise<ServiceProcess> {
  return startService({ ...opts, env: { ...RELIABILITY_ENV, ...opts.env }, sandbox: sandboxOf(dc) });
}

let phoneCounter = 0;
/** A phone number no other test of this run uses (not a 99966 test number: its code comes from the controls). */
export function uniquePhone(prefix = '1559'): string {
  phoneCounter += 1;
  return `+${prefix}${String(process.pid % 1000).padStart(3, '0')}${String(phoneCounter).padStart(4, '0')}`;
}

/** A seeded PRNG (mulberry32): a failing run can be repeated with the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

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
