/**
 * Shared pieces of the network, revocation and load reliability tests: the real service process pointed at
 * a sandbox DC the test controls, a fresh logged-in account, status polling, the files' fingerprint and
 * percentiles. Nothing here is mocked: every call crosses HTTP and MTProto over TCP.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TestSandbox } from '../helpers/sandbox.js';
import { startService, type LogLine, type ServiceProcess, type StartServiceOptions } from '../helpers/service-process.js';

export const RESTORED = 'Session restored successfully from persistent state';
export const ATTEMPTING = 'Attempting session recovery';
export const RECOVERED = 'Session recovery successful';
export const RECOVERY_FAILED = 'Session recovery failed, clearing auth state';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- status bodies are checked field by field
export type Body = any;

/** The real service process talking to `dc`'s DC 2 over TCP. */
export function serviceOn(dc: TestSandbox, opts: Omit<StartServiceOptions, 'sandbox'> = {}): Promise<ServiceProcess> {
  const dc2 = dc.dcs.find((d) => d.id === 2)!;
  return startService({ ...opts, sandbox: { host: dc2.host, port: dc2.port, publicKeyPem: dc.publicKeyPem } });
}

let phoneCounter = 0;
/** A phone number no other test file of this run uses (pid-based), homed on DC 2. */
export function uniquePhone(prefix = '1557'): string {
  phoneCounter += 1;
  return `+${prefix}${String(process.pid % 1000).padStart(3, '0')}${String(phoneCounter).padStart(4, '0')}`;
}

/** Logs `phone` in through `svc` (code, and the 2FA password when given); returns the final answer. */
export async function loginThrough(svc: ServiceProcess, dc: TestSandbox, phone: string, password?: string): Promise<Body> {
  const sent = await svc.request('POST', '/api/telegram/auth/send-code', { phone });
  if (sent.status !== 200) throw new Error(`send-code answered ${sent.status}: ${JSON.stringify(sent.body)}`);
  const verified = await svc.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) });
  if (verified.status !== 200) throw new Error(`verify-code answered ${verified.status}: ${JSON.stringify(verified.body)}`);
  if (verified.body.state !== 'password_required') return verified.body;
  if (password === undefined) throw new Error('the account asked for a 2FA password');
  const done = await svc.request('POST', '/api/telegram/auth/verify-password', { password });
  if (done.status !== 200) throw new Error(`verify-password answered ${done.status}: ${JSON.stringify(done.body)}`);
  return done.body;
}

/** A data directory logged in as a fresh account (the service that logged in has stopped cleanly). */
export async function loggedInDataDir(
  dc: TestSandbox,
  env: Record<string, string> = {},
): Promise<{ dataDir: string; phone: string; userId: number }> {
  const phone = uniquePhone();
  const user = dc.controls.createUser({ phone, firstName: 'Rel', homeDc: 2 });
  // The key exchange is the slow part of a first login: a generous timeout here only.
  const svc = await serviceOn(dc, { env: { LOGIN_RATE_LIMIT: '0', CLIENT_READY_TIMEOUT: '10s', ...env } });
  const done = await loginThrough(svc, dc, phone);
  if (done.state !== 'authenticated') throw new Error(`login ended in ${JSON.stringify(done)}`);
  const code = await svc.stop();
  if (code !== 0) throw new Error(`the login service exited with ${code}`);
  return { dataDir: svc.dataDir, phone, userId: user.id };
}

export async function status(svc: ServiceProcess): Promise<Body> {
  const res = await svc.request('GET', '/api/telegram/status');
  if (res.status !== 200) throw new Error(`status answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function waitForStatus(
  svc: ServiceProcess,
  ok: (body: Body) => boolean,
  what: string,
  opts: { timeoutMs?: number; everyMs?: number; onEach?: (body: Body) => void } = {},
): Promise<Body> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const body = await status(svc);
    opts.onEach?.(body);
    if (ok(body)) return body;
    if (Date.now() > deadline) throw new Error(`status never became ${what}: ${JSON.stringify(body)}`);
    await sleep(opts.everyMs ?? 25);
  }
}

/** What must survive every fault: the same auth keys in session.json and the same user in auth_state.json. */
export interface FilesFingerprint {
  authKeys: string | null;
  authStateUserId: number | null;
}

export function filesFingerprint(dataDir: string): FilesFingerprint {
  return {
    authKeys: readJson(path.join(dataDir, 'session.json'), (doc) => JSON.stringify(doc.authKeys ?? null)),
    authStateUserId: readJson(path.join(dataDir, 'auth_state.json'), (doc) => (typeof doc.user_id === 'number' ? doc.user_id : null)),
  };
}

function readJson<T>(file: string, pick: (doc: Body) => T): T | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  return pick(JSON.parse(text));
}

export function fileExists(dataDir: string, name: 'session.json' | 'auth_state.json'): boolean {
  return fs.existsSync(path.join(dataDir, name));
}

/** State changes away from `authenticated` after start-up: each one is a log-out the user did not ask for. */
export function logoutLines(lines: LogLine[]): LogLine[] {
  return lines.filter((l) => typeof l.msg === 'string' && /^Account state: (logged_out|revoked|expired)$/.test(l.msg) && l.from !== 'start-up');
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

/** A small seeded PRNG (mulberry32) so a failing mix can be replayed with the printed seed. */
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
