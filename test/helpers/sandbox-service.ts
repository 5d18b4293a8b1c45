/**
 * What end-to-end and reliability tests do with the service on a sandbox DC: unique accounts, the /api
 * routes, logins over HTTP, status polling, a seeded PRNG. Starting the DC and the service: service-process.ts.
 */
import type { TestSandbox } from '@telegram-service/sandbox-dc/testing';
import type { ServiceProcess } from './service-process.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- status bodies are checked field by field
export type Body = any;

/** The sandbox's test number and its code (Telegram's 99966 X YYYY convention). */
export const TEST_PHONE = '+9996621234';
export const TEST_CODE = '22222';

let phoneCounter = 0;
/** A phone number no other test file of this run uses (pid-based; not a 99966 number: its code comes from the controls). */
export function uniquePhone(prefix = '1557'): string {
  phoneCounter += 1;
  return `+${prefix}${String(process.pid % 1000).padStart(3, '0')}${String(phoneCounter).padStart(4, '0')}`;
}

/**
 * Every single-account /api route, each with a body of the right shape, and one /api route that does not
 * exist: for the checks that all of them refuse a request without the right token.
 */
export const API_ROUTES: ReadonlyArray<readonly [method: string, route: string, body?: unknown]> = [
  ['POST', '/api/telegram/auth/send-code', { phone: TEST_PHONE }],
  ['POST', '/api/telegram/auth/resend-code'],
  ['POST', '/api/telegram/auth/verify-code', { code: TEST_CODE }],
  ['POST', '/api/telegram/auth/verify-password', { password: 'x' }],
  ['POST', '/api/telegram/auth/logout'],
  ['GET', '/api/telegram/me'],
  ['GET', '/api/telegram/status'],
  ['GET', '/api/does-not-exist'],
];

/** The routes of one account: `/api/accounts/<id>`, or the single-account `/api/telegram` (the account `default`). */
export function accountBase(id?: string): string {
  return id === undefined ? '/api/telegram' : `/api/accounts/${id}`;
}

/**
 * Logs `phone` in through `svc` (code, and the 2FA password when given) on the account `account`
 * (default: the single-account routes); returns the final answer.
 */
export async function loginThrough(svc: ServiceProcess, dc: TestSandbox, phone: string, password?: string, account?: string): Promise<Body> {
  const base = accountBase(account);
  const sent = await svc.request('POST', `${base}/auth/send-code`, { phone });
  if (sent.status !== 200) throw new Error(`send-code answered ${sent.status}: ${JSON.stringify(sent.body)}`);
  if (sent.body.state === 'authenticated') return sent.body; // a kept future auth token: no code asked
  const verified = await svc.request('POST', `${base}/auth/verify-code`, { code: dc.controls.lastCode(phone) });
  if (verified.status !== 200) throw new Error(`verify-code answered ${verified.status}: ${JSON.stringify(verified.body)}`);
  if (verified.body.state !== 'password_required') return verified.body;
  if (password === undefined) throw new Error('the account asked for a 2FA password');
  const done = await svc.request('POST', `${base}/auth/verify-password`, { password });
  if (done.status !== 200) throw new Error(`verify-password answered ${done.status}: ${JSON.stringify(done.body)}`);
  return done.body;
}

export async function status(svc: ServiceProcess, account?: string): Promise<Body> {
  const res = await svc.request('GET', `${accountBase(account)}/status`);
  if (res.status !== 200) throw new Error(`status answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Polls status until `ok`; throws with `what` and the last body after the deadline. */
export async function waitForStatus(
  svc: ServiceProcess,
  ok: (body: Body) => boolean,
  what: string,
  opts: { timeoutMs?: number; everyMs?: number; onEach?: (body: Body) => void; account?: string } = {},
): Promise<Body> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const body = await status(svc, opts.account);
    opts.onEach?.(body);
    if (ok(body)) return body;
    if (Date.now() > deadline) throw new Error(`status never became ${what}: ${JSON.stringify(body)}`);
    await sleep(opts.everyMs ?? 25);
  }
}

/** A small seeded PRNG (mulberry32) so a failing run can be replayed with the printed seed. */
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

/** Polls `check` until it gives a value (anything but undefined or false); throws naming `what` after the deadline. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
