/**
 * Issue 4, item 7 — hostile HTTP input against the REAL service process and a sandbox DC over TCP.
 *
 * size(10_000, 50_000) generated requests from a seeded PRNG (the seed is printed; reproduce a run with
 * FUZZ_SEED=<seed>): wrong types, huge and deep bodies, odd unicode, missing/extra fields, wrong
 * content types, bad JSON, odd methods/paths/query strings/headers, malformed HTTP on raw sockets,
 * steps out of order, and concurrent send-code / verify-code / verify-password / logout / resend-code
 * storms. Every answer must be 2xx (valid requests) or 4xx with `{"error": {"code", "message"}}`:
 * 0 5xx, 0 crashes (process alive, /healthz answers), and no corrupted state:
 *
 * 1. authenticated → a batch of invalid requests → still authenticated, same user, same auth key;
 * 2. logged_out, code_sent, password_required → a batch each → the state is exactly as it was;
 * 3. storms of concurrent valid and invalid login steps → status self-consistent, files parse;
 * 4. afterwards a normal login works, and a restart restores it.
 */
import fs from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { type ServiceProcess, startService, TEST_ENV } from '../helpers/service-process.js';
import { createAgent, judgeResponse, runBounded, send, type FuzzRequest } from './fuzz-client.js';
import { createRandom, fuzzSeed, type Random } from './fuzz-random.js';
import { generateRequest, ROUTES, type FuzzContext } from './fuzz-requests.js';
import { recordTotals, size } from './totals.js';
import { accountFile } from '../helpers/layout.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

// FUZZ_REQUESTS overrides the size for a quick local run; the suite's figure is size(10_000, 50_000).
const TOTAL_REQUESTS = Number(process.env.FUZZ_REQUESTS) || size(10_000, 50_000);
const CONCURRENCY = 16;
const TEST_PHONE = '+9996621234'; // sandbox test number: code 22222
const TEST_CODE = '22222';
const TWO_FA_PHONE = `+1558${String(process.pid % 10_000).padStart(4, '0')}321`;
const TWO_FA_PASSWORD = `fuzz-2fa-${process.pid}-pw`;
const STATES = ['logged_out', 'code_sent', 'password_required', 'authenticated', 'expired', 'revoked'];

const seed = fuzzSeed();
const random = createRandom(seed);

interface Tally {
  casesTried: number;
  httpRequests: number;
  http5xx: number;
  crashes: number;
  secretLeaks: number;
  statuses: Map<number, number>;
  failures: string[];
}

const tally: Tally = { casesTried: 0, httpRequests: 0, http5xx: 0, crashes: 0, secretLeaks: 0, statuses: new Map(), failures: [] };

function fail(message: string): void {
  if (tally.failures.length < 40) tally.failures.push(message);
}

let dc: TestSandbox;
let svc: ServiceProcess;
let agent: http.Agent;
let stormAgent: http.Agent;

async function startFuzzService(dataDir?: string): Promise<ServiceProcess> {
  return startService({
    ...(dataDir ? { dataDir } : {}),
    dc,
    env: { ...TEST_ENV, CLIENT_READY_TIMEOUT: '15s', LOG_LEVEL: 'debug' },
  });
}

function context(mode: FuzzContext['mode']): FuzzContext {
  return {
    token: svc.token,
    validPhones: [TEST_PHONE, TWO_FA_PHONE],
    secretsToAvoid: () => [TEST_CODE, dc.controls.lastCode(TWO_FA_PHONE) ?? TEST_CODE, TWO_FA_PASSWORD],
    rightCode: () => (random.bool() ? TEST_CODE : (dc.controls.lastCode(TWO_FA_PHONE) ?? TEST_CODE)),
    rightPassword: TWO_FA_PASSWORD,
    mode,
  };
}

/** Sends one request and judges every answer; returns the first answer's status (0 = none). */
async function sendJudged(req: FuzzRequest, withAgent: http.Agent): Promise<number> {
  tally.casesTried += 1;
  const outcome = await send(svc.port, withAgent, req);
  tally.httpRequests += Math.max(1, outcome.responses.length);
  const where = `[seed ${seed}] ${req.kind} ${req.label}`;
  if (outcome.responses.length === 0) {
    const resetWhileSending = req.mayResetWhileSending && /ECONNRESET|EPIPE|socket hang up/.test(outcome.error ?? '');
    if (!req.mayDrop && !resetWhileSending) fail(`${where}: no answer (${outcome.error ?? 'connection closed'})`);
    return 0;
  }
  if (outcome.error && !req.mayDrop) fail(`${where}: ${outcome.error}`);
  for (const res of outcome.responses) {
    tally.statuses.set(res.status, (tally.statuses.get(res.status) ?? 0) + 1);
    if (res.status >= 500) tally.http5xx += 1;
    const problem = judgeResponse(res, req.kind === 'http' ? req.method : undefined);
    if (problem) fail(`${where}: ${problem}`);
    const text = res.body.toString('utf8') + JSON.stringify(res.headers);
    if (text.includes(svc.token) || text.includes(TWO_FA_PASSWORD)) {
      tally.secretLeaks += 1;
      fail(`${where}: a secret in the answer`);
    }
  }
  return outcome.responses[0]!.status;
}

/** The process is alive and /healthz answers 200. */
async function expectAlive(when: string): Promise<void> {
  if (svc.proc.exitCode !== null || svc.proc.signalCode !== null) {
    tally.crashes += 1;
    throw new Error(`[seed ${seed}] the service died ${when}: ${JSON.stringify(svc.output().stderr.slice(-2000))}`);
  }
  const health = await svc.request('GET', '/healthz', undefined, { token: null });
  expect(health.status, `/healthz ${when}`).toBe(200);
}

async function status(): Promise<{ state: string; authenticated: boolean; user: { id: number } | null; session: Record<string, unknown> }> {
  const res = await svc.request('GET', ROUTES.status);
  expect(res.status).toBe(200);
  return res.body;
}

async function fuzzBatch(count: number, mode: FuzzContext['mode']): Promise<void> {
  const ctx = context(mode);
  const requests = Array.from({ length: count }, () => generateRequest(random, ctx));
  await runBounded(requests, CONCURRENCY, async (req) => {
    await sendJudged(req, agent);
  });
}

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** session.json and auth_state.json, when present, parse and have their shapes; no file was moved aside. */
function expectFilesParse(opts: { noTempFiles?: boolean } = {}): { authKeys: unknown; authState: Record<string, unknown> | undefined } {
  const sessionFile = accountFile(svc.dataDir, 'session.json');
  const authStateFile = accountFile(svc.dataDir, 'auth_state.json');
  let authKeys: unknown;
  if (fs.existsSync(sessionFile)) {
    const session = readJson(sessionFile) as { version: number; authKeys: unknown };
    expect(session.version).toBe(1);
    authKeys = session.authKeys;
  }
  let authState: Record<string, unknown> | undefined;
  if (fs.existsSync(authStateFile)) {
    authState = readJson(authStateFile) as Record<string, unknown>;
    expect(Object.keys(authState).sort()).toEqual(['phone', 'saved_at', 'user_auth', 'user_id', 'version']);
  }
  // Temp files exist for a moment during each atomic write: only checked where nothing is writing.
  const leftovers = fs.readdirSync(svc.dataDir).filter((f) => f.includes('.corrupt-') || (opts.noTempFiles && f.includes('.tmp')));
  expect(leftovers, 'no file moved aside as corrupt (or left as a temp file)').toEqual([]);
  return { authKeys, authState };
}

/** Status is self-consistent (and agrees with the files once writes have settled). */
async function expectConsistent(when: string): Promise<string> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const s = await status();
    const files = expectFilesParse();
    const problems: string[] = [];
    if (!STATES.includes(s.state)) problems.push(`unknown state ${s.state}`);
    if (s.authenticated !== (s.state === 'authenticated')) problems.push(`authenticated=${s.authenticated} in state ${s.state}`);
    if (s.state === 'authenticated') {
      if (!s.user) problems.push('authenticated without a user');
      if (files.authState?.user_id !== s.user?.id) problems.push(`auth_state.json user ${String(files.authState?.user_id)} ≠ status user ${s.user?.id}`);
    }
    if (s.state === 'logged_out' && files.authState) problems.push('logged_out with an auth_state.json');
    if (problems.length === 0) return s.state;
    if (Date.now() > deadline) throw new Error(`[seed ${seed}] inconsistent ${when}: ${problems.join('; ')} — ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function login(phone: string, password?: string): Promise<void> {
  const sent = await svc.request('POST', ROUTES.sendCode, { phone });
  expect(sent.status, JSON.stringify(sent.body)).toBe(200);
  const code = phone === TEST_PHONE ? TEST_CODE : dc.controls.lastCode(phone)!;
  const verified = await svc.request('POST', ROUTES.verifyCode, { code });
  expect(verified.status, JSON.stringify(verified.body)).toBe(200);
  if (password) {
    expect(verified.body.state).toBe('password_required');
    const done = await svc.request('POST', ROUTES.verifyPassword, { password });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
  }
  expect((await status()).state).toBe('authenticated');
}

async function logoutIfNeeded(): Promise<void> {
  const s = await status();
  if (s.state === 'logged_out') return;
  const res = await svc.request('POST', ROUTES.logout);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect((await status()).state).toBe('logged_out');
}

// ---------- storms ----------

/**
 * One burst: valid and invalid login steps, status and /me, all at once, with at most two logouts (each
 * logout makes the next login create a new auth key: that, not the request count, is what a burst costs).
 */
function stormBurst(r: Random): FuzzRequest[] {
  const json = (route: string, value: unknown, label: string): FuzzRequest => ({
    kind: 'http',
    label,
    method: 'POST',
    path: route,
    headers: { authorization: `Bearer ${svc.token}`, 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(value)),
  });
  const bare = (method: string, route: string): FuzzRequest => ({
    kind: 'http',
    label: `storm ${method} ${route}`,
    method,
    path: route,
    headers: { authorization: `Bearer ${svc.token}` },
  });
  const anyCtx = context('any');
  const steps: Array<readonly [number, () => FuzzRequest]> = [
    [4, () => json(ROUTES.sendCode, { phone: r.pick([TEST_PHONE, TWO_FA_PHONE]) }, 'storm send-code')],
    [2, () => bare('POST', ROUTES.resendCode)],
    [4, () => json(ROUTES.verifyCode, { code: r.pick([TEST_CODE, dc.controls.lastCode(TWO_FA_PHONE) ?? TEST_CODE, '12345']) }, 'storm verify-code')],
    [3, () => json(ROUTES.verifyPassword, { password: r.pick([TWO_FA_PASSWORD, 'wrong-password']) }, 'storm verify-password')],
    [3, () => bare('GET', ROUTES.status)],
    [2, () => bare('GET', ROUTES.me)],
    [4, () => generateRequest(r, anyCtx)],
  ];
  const burst = Array.from({ length: r.int(30, 80) }, () => r.weighted(steps)());
  for (let i = r.int(0, 2); i > 0; i--) burst.splice(r.int(0, burst.length), 0, bare('POST', ROUTES.logout));
  return burst;
}

// ---------- the run ----------

describe('hostile HTTP input: fuzz run against the real process', () => {
  beforeAll(async () => {
    console.log(`[fuzz-http] seed ${seed} — reproduce with FUZZ_SEED=${seed} npx vitest run test/reliability/fuzz-http.test.ts`);
    dc = await startTestSandbox();
    dc.controls.createUser({ phone: TWO_FA_PHONE, firstName: 'Fuzz', password: TWO_FA_PASSWORD, hint: 'fuzz hint' });
    svc = await startFuzzService();
    agent = createAgent(CONCURRENCY);
    stormAgent = createAgent(64);
  });

  afterAll(async () => {
    agent?.destroy();
    stormAgent?.destroy();
    const errorLines = svc ? svc.logLines({ all: true }).filter((l) => l.level >= 50) : [];
    recordTotals('http fuzz', {
      casesTried: tally.casesTried,
      httpRequests: tally.httpRequests,
      http5xx: tally.http5xx,
      crashes: tally.crashes,
      secretLeaks: tally.secretLeaks,
    });
    console.log(
      `[fuzz-http] seed ${seed}: ${tally.casesTried} cases, ${tally.httpRequests} HTTP requests, 5xx ${tally.http5xx}, ` +
        `crashes ${tally.crashes}, secret leaks ${tally.secretLeaks}, error log lines ${errorLines.length}; statuses ` +
        JSON.stringify(Object.fromEntries([...tally.statuses].sort(([a], [b]) => a - b))),
    );
    if (svc && tally.failures.length > 0) {
      // Keep the service's log of a failed run for the report (the temp data directory is removed).
      const kept = path.join(os.tmpdir(), `fuzz-http-${seed}.log`);
      fs.copyFileSync(svc.logFile, kept);
      console.log(`[fuzz-http] the service log of this run: ${kept}`);
    }
    await svc?.stop();
    await dc?.dispose();
  });

  it('an authenticated session survives a batch of invalid requests: same state, user and auth key', { timeout: 240_000 }, async () => {
    await login(TEST_PHONE);
    const before = await status();
    const filesBefore = expectFilesParse();
    const keysAtDc = dc.controls.authKeysOfUser(TEST_PHONE).map((k) => k.authKeyId);

    await fuzzBatch(Math.round(TOTAL_REQUESTS * 0.35), 'invalid');

    await expectAlive('after the batch');
    const after = await status();
    expect(after).toMatchObject({ state: 'authenticated', authenticated: true, user: { id: before.user!.id } });
    expect(after.session.validation).toBe('valid');
    expect(expectFilesParse().authKeys).toEqual(filesBefore.authKeys);
    expect(dc.controls.authKeysOfUser(TEST_PHONE).map((k) => k.authKeyId)).toEqual(keysAtDc);
    expect((await svc.request('GET', ROUTES.me)).status).toBe(200);
    expect(tally.failures, tally.failures.join('\n')).toEqual([]);
  });

  it('logged_out, code_sent and password_required each survive a batch of invalid requests unchanged', { timeout: 240_000 }, async () => {
    await logoutIfNeeded();
    await fuzzBatch(Math.round(TOTAL_REQUESTS * 0.2), 'invalid');
    await expectAlive('after the logged_out batch');
    expect((await status()).state).toBe('logged_out');
    expect(fs.existsSync(accountFile(svc.dataDir, 'auth_state.json'))).toBe(false);

    expect((await svc.request('POST', ROUTES.sendCode, { phone: TWO_FA_PHONE })).status).toBe(200);
    await fuzzBatch(Math.round(TOTAL_REQUESTS * 0.15), 'invalid');
    await expectAlive('after the code_sent batch');
    expect((await status()).state).toBe('code_sent');

    // Wrong codes of the batch may have used the code up: a fresh one, then on to the password step.
    expect((await svc.request('POST', ROUTES.sendCode, { phone: TWO_FA_PHONE })).status).toBe(200);
    const step = await svc.request('POST', ROUTES.verifyCode, { code: dc.controls.lastCode(TWO_FA_PHONE) });
    expect(step.body).toEqual({ state: 'password_required', hint: 'fuzz hint' });
    await fuzzBatch(Math.round(TOTAL_REQUESTS * 0.1), 'invalid');
    await expectAlive('after the password_required batch');
    expect((await status()).state).toBe('password_required');

    // The batch guessed wrong passwords: the account's guard now refuses even the right one for a while
    // (429 TOO_MANY_ATTEMPTS with Retry-After) — brute force of the password step gets nowhere.
    const locked = await svc.request('POST', ROUTES.verifyPassword, { password: TWO_FA_PASSWORD });
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('TOO_MANY_ATTEMPTS');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await status()).state).toBe('password_required');

    // The guard lives in the running process: after a restart (the login in progress survives it) the
    // password step still works after all that.
    const dataDir = svc.dataDir;
    expect(await svc.stop()).toBe(0);
    svc = await startFuzzService(dataDir);
    const done = await svc.request('POST', ROUTES.verifyPassword, { password: TWO_FA_PASSWORD });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ state: 'authenticated', user: { firstName: 'Fuzz' } });
    expect(tally.failures, tally.failures.join('\n')).toEqual([]);
  });

  it('concurrent storms of send-code / verify-code / verify-password / logout / resend-code: 2xx or 4xx, consistent state', { timeout: 240_000 }, async () => {
    const budget = Math.round(TOTAL_REQUESTS * 0.2);
    let sent = 0;
    let bursts = 0;
    while (sent < budget) {
      const burst = stormBurst(random);
      sent += burst.length;
      bursts += 1;
      const started = Date.now();
      await Promise.all(burst.map((req) => sendJudged(req, stormAgent)));
      if (process.env.FUZZ_VERBOSE) console.log(`burst ${bursts}: ${burst.length} requests in ${Date.now() - started} ms`);
      if (bursts % 5 === 0) {
        await expectAlive(`after storm burst ${bursts}`);
        await expectConsistent(`after storm burst ${bursts}`);
      }
    }
    await expectAlive('after the storms');
    await expectConsistent('after the storms');
    expect(tally.failures, tally.failures.join('\n')).toEqual([]);
  });

  it('afterwards: a normal login works, the files parse, and a restart restores the session', { timeout: 120_000 }, async () => {
    await logoutIfNeeded();
    await login(TEST_PHONE);
    const user = (await status()).user!;
    expect((await svc.request('GET', ROUTES.me)).status).toBe(200);
    expectFilesParse();

    const dataDir = svc.dataDir;
    expect(await svc.stop()).toBe(0);
    svc = await startFuzzService(dataDir);
    await svc.waitForLog(LOG_MESSAGES.sessionRestored, 20_000);
    expectFilesParse({ noTempFiles: true });
    const restored = await status();
    expect(restored).toMatchObject({ state: 'authenticated', user: { id: user.id }, session: { restored: true, validation: 'valid' } });

    // No unexpected error was logged in the whole run (a 500, an uncaught exception, an unhandled rejection).
    const errorLines = svc.logLines({ all: true }).filter((l) => l.level >= 50);
    expect(errorLines.map((l) => JSON.stringify(l).slice(0, 1500))).toEqual([]);
    expect(tally.http5xx).toBe(0);
    expect(tally.crashes).toBe(0);
    expect(tally.secretLeaks).toBe(0);
    expect(tally.failures, tally.failures.join('\n')).toEqual([]);
  });
});
