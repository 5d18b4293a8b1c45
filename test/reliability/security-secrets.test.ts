/**
 * Issue 4, item 8 — secrets never leave where they belong. A full login with 2FA through the real
 * service process (wrong code, resend, wrong password, right password, status, /me, requests that
 * carry secrets into error paths, a restart, a logout), then every log line (log file + stdout +
 * stderr), every HTTP response (body and headers) and every file in DATA_DIR except session.json and
 * its good copy session.json.bak (which hold the auth key by design) are searched for the login codes,
 * the 2FA passwords, the auth key (hex and base64, whole and its first 32 bytes), the API token and
 * the API hash: 0 occurrences. File modes: files 0600, directories 0700.
 *
 * Two variants: an external sandbox DC with a 2FA account, API_TOKEN from the environment and
 * LOG_LEVEL=trace (the most log lines); and the in-process sandbox DC (its state under
 * DATA_DIR/sandbox-dc is searched too) with a generated token (DATA_DIR/api_token holds it by design,
 * so that one file is not searched for the token).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_API_HASH } from '../../src/config/index.js';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { type HttpResult, type ServiceProcess, startService, TEST_ENV } from '../helpers/service-process.js';
import { recordTotals } from './totals.js';
import { accountFile } from '../helpers/layout.js';
import { eventually } from '../helpers/sandbox-service.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const counts = { casesTried: 0, httpRequests: 0, http5xx: 0, crashes: 0, secretLeaks: 0 };
afterAll(() => recordTotals('security: secrets', counts));

/** What one run saw: every response and the output of every process. */
class Capture {
  responses: string[] = [];
  processOutput: string[] = [];

  async request(svc: ServiceProcess, method: string, route: string, body?: unknown, opts: Parameters<ServiceProcess['request']>[3] = {}): Promise<HttpResult> {
    counts.httpRequests += 1;
    const res = await svc.request(method, route, body, opts);
    if (res.status >= 500) counts.http5xx += 1;
    // The answer only (not the request line: a secret the test put into a URL is not a leak).
    this.responses.push(`${res.status} ${JSON.stringify(res.headers)} ${typeof res.body === 'string' ? res.body : JSON.stringify(res.body)}`);
    return res;
  }

  keepOutput(svc: ServiceProcess): void {
    const { stdout, stderr } = svc.output();
    this.processOutput.push(stdout, stderr);
  }
}

interface Secret {
  name: string;
  /** A plain substring, or a pattern (codes: digits not inside a longer number). */
  match: string | RegExp;
  /** Files (relative to DATA_DIR) that hold this secret by design. */
  allowedIn?: string[];
  /** Text that may hold it by design (removed before searching). */
  allowedText?: string;
}

function keyForms(name: string, bytes: Buffer): Secret[] {
  return [
    { name: `${name} (hex)`, match: bytes.toString('hex') },
    { name: `${name} (HEX)`, match: bytes.toString('hex').toUpperCase() },
    { name: `${name} (base64)`, match: bytes.toString('base64') },
    { name: `${name} (base64url)`, match: bytes.toString('base64url') },
    // Part of the key, on its own (a truncated dump): 32 bytes at the start, in hex and base64.
    { name: `${name} first 32 bytes (hex)`, match: bytes.subarray(0, 32).toString('hex') },
    { name: `${name} first 32 bytes (base64)`, match: bytes.subarray(0, 30).toString('base64') },
  ];
}

function codeSecret(code: string): Secret {
  return { name: `login code ${code}`, match: new RegExp(`(?<![0-9])${code}(?![0-9])`) };
}

/** Every file under `dir` (relative path → text), except the named ones. */
function readTree(dir: string, except: Set<string>): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (current: string) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      const rel = path.relative(dir, full);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && !except.has(rel)) out.set(rel, fs.readFileSync(full).toString('latin1') + '\n' + fs.readFileSync(full).toString('utf8'));
    }
  };
  walk(dir);
  return out;
}

/** Modes of everything under DATA_DIR: files 0600, directories 0700 (the directory itself included). */
function expectPrivateModes(dir: string): void {
  const wrong: string[] = [];
  const check = (full: string, isDir: boolean) => {
    const mode = fs.statSync(full).mode & 0o777;
    if (mode !== (isDir ? 0o700 : 0o600)) wrong.push(`${path.relative(dir, full) || '.'} ${mode.toString(8)}`);
  };
  check(dir, true);
  const walk = (current: string) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) {
        check(full, true);
        walk(full);
      } else if (entry.isFile()) {
        check(full, false);
      }
    }
  };
  walk(dir);
  expect(wrong, 'files 0600 and directories 0700 under DATA_DIR').toEqual([]);
}

/** The auth keys in session.json (plaintext form). */
function authKeysOf(dataDir: string): Buffer[] {
  const doc = JSON.parse(fs.readFileSync(accountFile(dataDir, 'session.json'), 'utf8')) as { authKeys: Record<string, string> };
  return Object.values(doc.authKeys).map((b64) => Buffer.from(b64, 'base64'));
}

/** Searches every captured text for every secret; returns the findings (and counts them as leaks). */
/**
 * The last-known-good copy follows session.json beside the store's queue: its temp file (the store's own,
 * renamed into session.json.bak a moment later) is waited out, never allowed.
 */
async function sessionWritesSettled(svc: ServiceProcess): Promise<void> {
  const accountDir = path.dirname(accountFile(svc.dataDir, 'session.json'));
  await eventually(() => !fs.existsSync(accountDir) || !fs.readdirSync(accountDir).some((name) => name.includes('.tmp-')), 'the session writes to finish');
}

function findLeaks(capture: Capture, svc: ServiceProcess, secrets: Secret[], except: Set<string>): string[] {
  const places = new Map<string, string>();
  places.set('log file', fs.readFileSync(svc.logFile, 'utf8'));
  places.set('stdout/stderr', capture.processOutput.join('\n'));
  places.set('HTTP responses', capture.responses.join('\n'));
  for (const [rel, text] of readTree(svc.dataDir, except)) places.set(`DATA_DIR/${rel}`, text);
  const findings: string[] = [];
  for (const secret of secrets) {
    for (const [place, text] of places) {
      if (secret.allowedIn?.some((f) => place === `DATA_DIR/${f}`)) continue;
      const searched = secret.allowedText ? text.split(secret.allowedText).join('') : text;
      const index = typeof secret.match === 'string' ? searched.indexOf(secret.match) : searched.search(secret.match);
      if (index >= 0) {
        counts.secretLeaks += 1;
        findings.push(`${secret.name} in ${place}: …${searched.slice(Math.max(0, index - 120), index + 40)}…`);
      }
    }
  }
  return findings;
}

describe('no secret in logs, answers or files: 2FA login with an external sandbox DC, LOG_LEVEL=trace', () => {
  let dc: TestSandbox;
  const phone = `+1559${String(process.pid % 10_000).padStart(4, '0')}777`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const wrongPassword = `wrong-${randomBytes(12).toString('hex')}`;
  const apiToken = `tok-${randomBytes(24).toString('base64url')}`;

  beforeAll(async () => {
    dc = await startTestSandbox();
    dc.controls.createUser({ phone, firstName: 'Sec', password, hint: 'the usual' });
  });
  afterAll(async () => {
    await dc?.dispose();
  });

  it('holds the codes, passwords, auth key, API token and API hash 0 times; modes 0600/0700', { timeout: 120_000 }, async () => {
    counts.casesTried += 1;
    const start = (dataDir?: string) =>
      startService({
        ...(dataDir ? { dataDir } : {}),
        dc,
        env: { ...TEST_ENV, API_TOKEN: apiToken, LOG_LEVEL: 'trace', CLIENT_READY_TIMEOUT: '15s' },
      });
    const capture = new Capture();
    const codes: string[] = [];
    let svc = await start();
    try {
      // The flow, with the refusals a user meets on the way.
      expect((await capture.request(svc, 'POST', '/api/telegram/auth/send-code', { phone })).status).toBe(200);
      codes.push(dc.controls.lastCode(phone)!);
      const wrongCode = codes[0] === '13579' ? '24680' : '13579';
      expect((await capture.request(svc, 'POST', '/api/telegram/auth/verify-code', { code: wrongCode })).status).toBe(400);
      expect((await capture.request(svc, 'POST', '/api/telegram/auth/resend-code')).status).toBe(200);
      codes.push(dc.controls.lastCode(phone)!);
      // The code in the wrong places: a body that is not JSON, a query string, an unknown route.
      await capture.request(svc, 'POST', '/api/telegram/auth/verify-code', undefined, { rawBody: `{"code":"${codes[1]}"` });
      await capture.request(svc, 'GET', `/api/telegram/status?code=${codes[1]}`);
      await capture.request(svc, 'POST', `/api/telegram/auth/verify-code/${codes[1]}`, { code: codes[1] });
      const step = await capture.request(svc, 'POST', '/api/telegram/auth/verify-code', { code: `${codes[1]!.slice(0, 2)} ${codes[1]!.slice(2)}` });
      expect(step.body).toEqual({ state: 'password_required', hint: 'the usual' });

      expect((await capture.request(svc, 'POST', '/api/telegram/auth/verify-password', { password: wrongPassword })).status).toBe(400);
      // The password in the wrong places: too long, not JSON, wrong type, wrong token.
      await capture.request(svc, 'POST', '/api/telegram/auth/verify-password', { password: password + 'x'.repeat(1100) });
      await capture.request(svc, 'POST', '/api/telegram/auth/verify-password', undefined, { rawBody: `{"password":"${password}"` });
      await capture.request(svc, 'POST', '/api/telegram/auth/verify-password', { password: [password] });
      await capture.request(svc, 'POST', '/api/telegram/auth/verify-password', { password }, { token: `${apiToken}x` });
      await capture.request(svc, 'POST', '/api/telegram/auth/send-code', { phone: password });
      const done = await capture.request(svc, 'POST', '/api/telegram/auth/verify-password', { password });
      expect(done.status).toBe(200);
      expect(done.body.state).toBe('authenticated');
      // Steps out of order once logged in, carrying the secrets again.
      expect((await capture.request(svc, 'POST', '/api/telegram/auth/verify-password', { password })).status).toBe(409);
      expect((await capture.request(svc, 'POST', '/api/telegram/auth/verify-code', { code: codes[1] })).status).toBe(409);
      // The token in places it does not belong.
      await capture.request(svc, 'GET', `/api/telegram/status?token=${apiToken}`, undefined, { token: null });
      await capture.request(svc, 'GET', '/api/telegram/status', undefined, { token: null, headers: { 'x-api-token': apiToken, cookie: `token=${apiToken}` } });
      await capture.request(svc, 'GET', '/api/telegram/status', undefined, { token: null, headers: { authorization: `Basic ${apiToken}` } });
      expect((await capture.request(svc, 'GET', '/api/telegram/status')).body.state).toBe('authenticated');
      expect((await capture.request(svc, 'GET', '/api/telegram/me')).status).toBe(200);

      // A restart: restore and validation log their own lines.
      expect(await svc.stop()).toBe(0);
      capture.keepOutput(svc);
      svc = await start(svc.dataDir);
      await svc.waitForLog(LOG_MESSAGES.sessionRestored, 20_000);
      expect((await capture.request(svc, 'GET', '/api/telegram/status')).body.session.validation).toBe('valid');

      // Searched while logged in (session.json exists: its auth key is what we look for).
      const authKeys = authKeysOf(svc.dataDir);
      expect(authKeys.length).toBeGreaterThan(0);
      const secrets: Secret[] = [
        ...codes.map(codeSecret),
        { name: '2FA password', match: password },
        { name: 'wrong 2FA password', match: wrongPassword },
        ...authKeys.flatMap((k, i) => keyForms(`auth key ${i}`, k)),
        { name: 'API token', match: apiToken },
        { name: 'API hash (sandbox placeholder)', match: SANDBOX_API_HASH },
      ];
      capture.keepOutput(svc);
      const sessionFiles = new Set(['accounts/default/session.json', 'accounts/default/session.json.bak']);
      await sessionWritesSettled(svc);
      expect(findLeaks(capture, svc, secrets, sessionFiles)).toEqual([]);
      expectPrivateModes(svc.dataDir);

      // And after a logout (its own log lines; the files are gone).
      expect((await capture.request(svc, 'POST', '/api/telegram/auth/logout')).status).toBe(200);
      expect(await svc.stop()).toBe(0);
      capture.keepOutput(svc);
      expect(fs.existsSync(accountFile(svc.dataDir, 'session.json'))).toBe(false);
      expect(findLeaks(capture, svc, secrets, sessionFiles)).toEqual([]);
      expectPrivateModes(svc.dataDir);
    } finally {
      await svc.stop();
    }
  });
});

describe('no secret in logs, answers or files: in-process sandbox DC, generated API token', () => {
  it('holds the code, auth key, API token and API hash 0 times, DATA_DIR/sandbox-dc included; modes 0600/0700', { timeout: 120_000 }, async () => {
    counts.casesTried += 1;
    const capture = new Capture();
    const svc = await startService({ env: { LOG_LEVEL: 'debug', LOGIN_RATE_LIMIT: '0' } });
    try {
      expect((await capture.request(svc, 'POST', '/api/telegram/auth/send-code', { phone: '+9996621234' })).status).toBe(200);
      expect((await capture.request(svc, 'POST', '/api/telegram/auth/verify-code', { code: '11111' })).status).toBe(400);
      expect((await capture.request(svc, 'POST', '/api/telegram/auth/verify-code', { code: '22222' })).status).toBe(200);
      expect((await capture.request(svc, 'GET', '/api/telegram/me')).status).toBe(200);
      const authKeys = authKeysOf(svc.dataDir);
      const secrets: Secret[] = [
        // The test number's code is public: the sandbox banner tells it. Anywhere else it counts.
        { ...codeSecret('22222'), allowedText: 'Test login: +9996621234, code 22222.' },
        ...authKeys.flatMap((k, i) => keyForms(`auth key ${i}`, k)),
        // DATA_DIR/api_token is where a generated token lives (0600): the one place it may be.
        { name: 'API token', match: svc.token, allowedIn: ['api_token'] },
        { name: 'API hash (sandbox placeholder)', match: SANDBOX_API_HASH },
      ];
      capture.keepOutput(svc);
      await sessionWritesSettled(svc);
      expect(findLeaks(capture, svc, secrets, new Set(['accounts/default/session.json', 'accounts/default/session.json.bak']))).toEqual([]);
      expectPrivateModes(svc.dataDir);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });
});
