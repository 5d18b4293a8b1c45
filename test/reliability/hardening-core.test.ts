/**
 * Issue 7 — defects in the account and store core, each through the real process and a real sandbox DC:
 * inactivity expiry (refreshed in proportion to the limit, applied while running, a future saved_at not
 * believed), files lost while running (written back), a login step that times out (the truth, found
 * out), guesses limited per account and per client host, a second login refused while one is under way,
 * and status that follows an outage while idle.
 */
import fs from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { accountDir, accountFile } from '../helpers/layout.js';
import { loginThrough, sleep, status, uniquePhone, waitForStatus } from '../helpers/sandbox-service.js';
import { type ServiceProcess, startService, TEST_ENV } from '../helpers/service-process.js';
import { recordTotals } from './totals.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const AREA = 'core hardening (issue 7)';
const counts = { casesTried: 0, faultsInjected: 0, httpRequests: 0, sessionsLost: 0, falseLogouts: 0, http5xx: 0 };

let dc: TestSandbox;
beforeAll(async () => {
  dc = await startTestSandbox();
});
afterAll(async () => {
  recordTotals(AREA, counts);
  await dc?.dispose();
});

function start(env: Record<string, string> = {}, dataDir?: string): Promise<ServiceProcess> {
  counts.casesTried++;
  return startService({ dc, ...(dataDir ? { dataDir } : {}), env: { ...TEST_ENV, ...env } });
}

function newUser(password?: string): string {
  const phone = uniquePhone('1562');
  dc.controls.createUser({ phone, ...(password ? { password } : {}) });
  return phone;
}

async function call(svc: ServiceProcess, method: string, route: string, body?: unknown) {
  counts.httpRequests++;
  const res = await svc.request(method, route, body);
  if (res.status >= 500 && res.status !== 503) counts.http5xx++;
  return res;
}

describe('inactivity expiry (SESSION_MAX_IDLE)', () => {
  it('a limit under 10 minutes: an active session is refreshed often enough to stay logged in across a restart', async () => {
    // 12 s limit: saved_at refreshed every 1.2 s of activity. Before, it was refreshed at most every
    // 10 minutes, so 14 s of activity still read as 14 s idle and the restart found the session expired.
    const svc = await start({ SESSION_MAX_IDLE: '12s' });
    await loginThrough(svc, dc, newUser());
    for (let t = 0; t < 14; t++) {
      expect((await call(svc, 'GET', '/api/telegram/status')).body.state).toBe('authenticated');
      await sleep(1000);
    }
    expect(await svc.stop()).toBe(0);
    const again = await start({ SESSION_MAX_IDLE: '12s' }, svc.dataDir);
    const restored = await status(again);
    if (restored.state !== 'authenticated') counts.falseLogouts++;
    expect(restored).toMatchObject({ state: 'authenticated', session: { restored: true } });
  });

  it('applied while running: no API activity past the limit → expired (client closed, files kept); a late request does not revive it', async () => {
    const svc = await start({ SESSION_MAX_IDLE: '2s', HEALTH_PROBE_INTERVAL: '0' });
    const phone = newUser();
    await loginThrough(svc, dc, phone);
    const before = (await status(svc)).session.expiresAt as string;
    await sleep(Date.parse(before) - Date.now() + 300);
    // The first request after the limit sees `expired`, not a session it refreshed.
    const me = await call(svc, 'GET', '/api/telegram/me');
    expect(me.status).toBe(401);
    expect(me.body.error.code).toBe('SESSION_EXPIRED');
    const after = await status(svc);
    expect(after).toMatchObject({ state: 'expired', authenticated: false, reason: 'SESSION_MAX_IDLE', user: null });
    expect(after.session.expiresAt).toBe(before);
    expect(fs.existsSync(accountFile(svc.dataDir, 'session.json'))).toBe(true);
    expect(fs.existsSync(accountFile(svc.dataDir, 'auth_state.json'))).toBe(true);
    await svc.waitForLog(LOG_MESSAGES.sessionExpired);
    // Nothing of this account talks to the DC any more.
    await sleep(300);
    const keys = dc.controls.authKeysOfUser(phone).map((k) => k.authKeyId);
    expect(dc.controls.listSessions().filter((s) => keys.includes(s.authKeyId) && s.connections > 0)).toEqual([]);
  });

  it('a saved_at in the future is not believed: inactivity counts from the start', async () => {
    const svc = await start();
    await loginThrough(svc, dc, newUser());
    expect(await svc.stop()).toBe(0);
    const file = accountFile(svc.dataDir, 'auth_state.json');
    const state = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...state, saved_at: '2099-01-01T00:00:00.000Z' }, null, 2) + '\n', { mode: 0o600 });
    const again = await start({ SESSION_MAX_IDLE: '1h' }, svc.dataDir);
    const body = await status(again);
    expect(Date.parse(body.session.expiresAt) - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(Date.parse(body.session.expiresAt) - Date.now()).toBeGreaterThan(3500_000);
    await again.waitForLog(LOG_MESSAGES.savedAtInFuture);
  });
});

describe('files lost while running', () => {
  it('session.json deleted, auth_state.json replaced by a directory, the account directory removed: noticed, said, written back; the next start is still logged in', async () => {
    const svc = await start();
    await loginThrough(svc, dc, newUser());
    const session = accountFile(svc.dataDir, 'session.json');
    const authState = accountFile(svc.dataDir, 'auth_state.json');

    fs.rmSync(session);
    counts.faultsInjected++;
    await svc.waitForLog(LOG_MESSAGES.fileLostWhileRunning('session.json', 'was removed'), 15_000);
    await waitFor(() => fs.existsSync(session), 'session.json written back');

    fs.rmSync(authState);
    fs.mkdirSync(authState);
    fs.writeFileSync(`${authState}/inside`, 'x');
    counts.faultsInjected++;
    await svc.waitForLog(LOG_MESSAGES.fileLostWhileRunning('auth_state.json', 'was replaced'), 15_000);
    // Absent for a moment between the obstacle moved aside and the file written back: keep waiting.
    await waitFor(() => fs.statSync(authState, { throwIfNoEntry: false })?.isFile() === true, 'auth_state.json written back as a file');
    expect(fs.readdirSync(accountDir(svc.dataDir)).some((n) => n.startsWith('auth_state.json.obstacle-'))).toBe(true);

    fs.rmSync(accountDir(svc.dataDir), { recursive: true });
    counts.faultsInjected++;
    await waitFor(() => fs.existsSync(session) && fs.existsSync(authState), 'the account directory written back');
    expect(fs.statSync(accountDir(svc.dataDir)).mode & 0o777).toBe(0o700);
    expect((await status(svc)).persistenceError).toBeUndefined();

    await svc.kill9();
    const again = await start({}, svc.dataDir);
    const restored = await waitForStatus(again, (b) => b.session.validation === 'valid', 'valid after the restart');
    if (restored.state !== 'authenticated') counts.sessionsLost++;
    expect(restored).toMatchObject({ state: 'authenticated', session: { restored: true } });
  });
});

describe('a login step that times out', () => {
  it('verify-code unanswered in time: the service asks Telegram what happened and answers the truth; the retry completes the login', async () => {
    const svc = await start({ CLIENT_READY_TIMEOUT: '1500ms' });
    const phone = newUser();
    expect((await call(svc, 'POST', '/api/telegram/auth/send-code', { phone })).status).toBe(200);
    const code = dc.controls.lastCode(phone);
    // The DC signs the key in, but answers after the service's deadline (and so does the follow-up question).
    dc.controls.setAnswerDelay(2500);
    counts.faultsInjected++;
    const first = await call(svc, 'POST', '/api/telegram/auth/verify-code', { code });
    expect(first.status).toBe(503);
    expect(first.body.error.code).toBe('LOGIN_OUTCOME_UNKNOWN');
    expect(dc.controls.authKeysOfUser(phone).length).toBe(1); // it did go through at the DC
    dc.controls.setAnswerDelay(0);
    // The same code again: not "wrong code" — the service finds the login done and completes it.
    const retry = await call(svc, 'POST', '/api/telegram/auth/verify-code', { code });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ state: 'authenticated', user: { phone } });
    expect((await status(svc)).state).toBe('authenticated');
    expect(dc.controls.authKeysOfUser(phone).length).toBe(1);
  });

  it('a logout after such a timeout logs the key out at Telegram too (no authorization left behind)', async () => {
    const svc = await start({ CLIENT_READY_TIMEOUT: '1500ms' });
    const phone = newUser();
    expect((await call(svc, 'POST', '/api/telegram/auth/send-code', { phone })).status).toBe(200);
    dc.controls.setAnswerDelay(2500);
    counts.faultsInjected++;
    const first = await call(svc, 'POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) });
    dc.controls.setAnswerDelay(0);
    expect(first.status).toBe(503);
    expect(dc.controls.authKeysOfUser(phone).length).toBe(1);
    expect((await call(svc, 'POST', '/api/telegram/auth/logout')).body.state).toBe('logged_out');
    expect(dc.controls.authKeysOfUser(phone)).toEqual([]);
  });
});

describe('guesses and logins, per account and per client host', () => {
  it('verify-password: after 5 wrong passwords even the right one waits (429 TOO_MANY_ATTEMPTS, Retry-After); the state is kept', async () => {
    const svc = await start();
    const phone = newUser('right-password');
    await call(svc, 'POST', '/api/telegram/auth/send-code', { phone });
    expect((await call(svc, 'POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) })).body.state).toBe('password_required');
    for (let i = 0; i < 5; i++) {
      const wrong = await call(svc, 'POST', '/api/telegram/auth/verify-password', { password: `wrong-${i}` });
      expect(wrong.body.error.code).toBe('PASSWORD_HASH_INVALID');
    }
    const right = await call(svc, 'POST', '/api/telegram/auth/verify-password', { password: 'right-password' });
    expect(right.status).toBe(429);
    expect(right.body.error.code).toBe('TOO_MANY_ATTEMPTS');
    expect(Number(right.headers['retry-after'])).toBeGreaterThanOrEqual(25);
    expect((await status(svc)).state).toBe('password_required');
  });

  it('the login rate limit counts one host once: every 127.x address shares one bucket', async () => {
    const svc = await start({ LOGIN_RATE_LIMIT: '3/1m' });
    const phone = newUser();
    const from = async (localAddress: string) => {
      counts.httpRequests++;
      return rawPost(svc.port, '/api/telegram/auth/send-code', { phone }, svc.token, localAddress);
    };
    expect([await from('127.0.0.2'), await from('127.0.0.3'), await from('127.0.0.4')]).toEqual([200, 200, 200]);
    expect(await from('127.0.0.5')).toBe(429);
    expect(await from('127.0.0.1')).toBe(429);
  });

  it('send-code for another number while a login is under way: 409 LOGIN_IN_PROGRESS, the first login unharmed', async () => {
    const svc = await start();
    const [first, second] = [newUser(), newUser()];
    expect((await call(svc, 'POST', '/api/telegram/auth/send-code', { phone: first })).status).toBe(200);
    const conflict = await call(svc, 'POST', '/api/telegram/auth/send-code', { phone: second });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('LOGIN_IN_PROGRESS');
    expect(conflict.body.error.message).not.toContain(first); // masked
    // The same number again re-sends; the first login completes.
    expect((await call(svc, 'POST', '/api/telegram/auth/send-code', { phone: first })).status).toBe(200);
    const done = await call(svc, 'POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(first) });
    expect(done.body).toMatchObject({ state: 'authenticated', user: { phone: first } });
  });
});

describe('status during an outage while idle', () => {
  it('the DC stops answering: an idle session shows offline within the probe interval, and valid again when the DC answers', async () => {
    const svc = await start({ HEALTH_PROBE_INTERVAL: '1s', CLIENT_READY_TIMEOUT: '1500ms' });
    await loginThrough(svc, dc, newUser());
    expect((await status(svc)).session).toMatchObject({ validation: 'valid', connection: 'online' });
    const frozenAt = Date.now();
    dc.controls.setAnswerDelay(60_000); // connections stay up; nothing is answered
    counts.faultsInjected++;
    try {
      await waitForStatus(svc, (b) => b.session.connection === 'offline', 'offline', { timeoutMs: 15_000, everyMs: 200 });
      expect(Date.now() - frozenAt).toBeLessThan(10_000);
    } finally {
      dc.controls.setAnswerDelay(0);
    }
    const back = await waitForStatus(svc, (b) => b.session.connection === 'online' && b.session.validation === 'valid', 'online again', {
      timeoutMs: 20_000,
    });
    if (back.state !== 'authenticated') counts.falseLogouts++;
    expect(back.state).toBe('authenticated');
  });
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A POST from a chosen loopback source address; resolves to the status code. */
function rawPost(port: number, route: string, body: unknown, token: string, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: route,
        method: 'POST',
        localAddress,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}
