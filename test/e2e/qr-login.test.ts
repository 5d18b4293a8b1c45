/**
 * QR login through the real process and the sandbox DC over TCP: POST …/auth/qr answers the first code
 * (tg:// link + SVG), status and GET …/auth/qr show the current one; scanned by the DC's control and by
 * a second mtcute client's auth.acceptLoginToken; with 2FA; with DC migration; with expiry and refresh;
 * across a restart while qr_pending; cancelled by logout and by a login by code.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TelegramClient } from '@mtcute/node';
import { loginSandboxClient, sandboxClient } from '@telegram-service/sandbox-dc/testing';
import { LOG_MESSAGES } from '../../src/logging/messages.js';
import { uniquePhone, waitForStatus, type Body } from '../helpers/sandbox-service.js';
import { sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';

const sandbox = sandboxPerFile();
const phones: TelegramClient[] = [];
afterEach(async () => {
  for (const c of phones.splice(0)) await c.destroy();
});

function tokenBytes(url: string): Uint8Array {
  const token = new URL(url).searchParams.get('token');
  if (!token) throw new Error(`no token in ${url}`);
  return new Uint8Array(Buffer.from(token, 'base64url'));
}

async function startQr(svc: ServiceProcess, base: string): Promise<Body> {
  const res = await svc.request('POST', `${base}/auth/qr`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body).toMatchObject({ state: 'qr_pending', url: expect.stringMatching(/^tg:\/\/login\?token=[A-Za-z0-9_-]+$/) });
  expect(Date.parse(res.body.expiresAt)).toBeGreaterThan(Date.now() - 1000);
  expect(res.body.svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  expect(res.body.svg).not.toMatch(/style=|<script/i);
  return res.body;
}

const waitFor = (svc: ServiceProcess, account: string | undefined, state: string, timeoutMs = 30_000) =>
  waitForStatus(svc, (b) => b.state === state, state, { account, timeoutMs, everyMs: 100 });

describe('QR login (real process, sandbox DC)', () => {
  it('scanned through the control: qr_pending with the current code in status and GET …/auth/qr, then authenticated (login method qr)', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1561');
    const user = dc.controls.createUser({ phone, firstName: 'Qr' });
    const svc = await sandbox.service();
    try {
      expect((await svc.request('POST', '/api/accounts', { id: 'qr' })).status).toBe(201);
      const first = await startQr(svc, '/api/accounts/qr');
      const shown = await svc.request('GET', '/api/accounts/qr/status');
      expect(shown.body).toMatchObject({ state: 'qr_pending', authenticated: false, qr: { url: first.url, expiresAt: first.expiresAt } });
      expect((await svc.request('GET', '/api/accounts/qr/auth/qr')).body).toEqual({ state: 'qr_pending', url: first.url, expiresAt: first.expiresAt, svg: first.svg });

      dc.controls.acceptLoginToken(phone, first.url);
      const done = await waitFor(svc, 'qr', 'authenticated');
      expect(done.user).toMatchObject({ id: user.id, firstName: 'Qr' });
      expect(done.session.loginMethod).toBe('qr');
      expect(done.qr).toBeUndefined();
      expect((await svc.request('GET', '/api/accounts/qr/me')).body).toMatchObject({ id: user.id, phone });
      expect((await svc.request('GET', '/api/accounts/qr/auth/qr')).body.error.code).toBe('INVALID_STEP');
      expect((await svc.request('POST', '/api/accounts/qr/auth/qr')).body.error.code).toBe('ALREADY_AUTHENTICATED');
      await svc.waitForLog(LOG_MESSAGES.qrLoggedIn);
      const metrics = (await svc.request('GET', '/metrics')).body as string;
      expect(metrics).toContain('telegram_service_login_attempts_total{step="qr",outcome="qr_pending"} 1');
      expect(metrics).toContain('telegram_service_login_attempts_total{step="qr-scan",outcome="authenticated"} 1');
      expect(metrics).toContain('telegram_service_accounts{state="qr_pending"} 0');
      // The link is a secret while it is valid: never in the log.
      expect(JSON.stringify(svc.logLines())).not.toContain(first.url.split('=')[1]);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('scanned by a second mtcute client with auth.acceptLoginToken, on the single-account routes; status keeps its old fields', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1562');
    const user = dc.controls.createUser({ phone });
    const scanner = await sandboxClient(dc);
    phones.push(scanner);
    await loginSandboxClient(scanner, dc, phone);
    const svc = await sandbox.service();
    try {
      const first = await startQr(svc, '/api/telegram');
      const accepted = await scanner.call({ _: 'auth.acceptLoginToken', token: tokenBytes(first.url) });
      expect(accepted).toMatchObject({ _: 'authorization', deviceModel: 'telegram-service' });
      const done = await waitFor(svc, undefined, 'authenticated');
      expect(done).toMatchObject({ state: 'authenticated', authenticated: true, environment: 'sandbox', user: { id: user.id } });
      expect(Object.keys(done.session)).toEqual(expect.arrayContaining(['restored', 'savedAt', 'expiresAt', 'validation', 'lastValidatedAt', 'connection']));
      expect(dc.controls.authKeysOfUser(user.id)).toHaveLength(2);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('with 2FA: the scan leads to password_required, then verify-password logs in', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1563');
    dc.controls.createUser({ phone, password: 'qr-pass', hint: 'the qr one' });
    const svc = await sandbox.service();
    try {
      const first = await startQr(svc, '/api/telegram');
      dc.controls.acceptLoginToken(phone, first.url);
      const waiting = await waitFor(svc, undefined, 'password_required');
      expect(waiting.qr).toBeUndefined();
      const wrong = await svc.request('POST', '/api/telegram/auth/verify-password', { password: 'nope' });
      expect(wrong.body.error.code).toBe('PASSWORD_HASH_INVALID');
      const done = await svc.request('POST', '/api/telegram/auth/verify-password', { password: 'qr-pass' });
      expect(done.body).toMatchObject({ state: 'authenticated', loginMethod: 'qr', user: { phone } });
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('migrates to the user’s home DC (loginTokenMigrateTo → importLoginToken): logged in there, and still after a restart; also with 2FA', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1564');
    const user = dc.controls.createUser({ phone, homeDc: 1 });
    const svc = await sandbox.service();
    let again: ServiceProcess | undefined;
    try {
      const first = await startQr(svc, '/api/telegram');
      dc.controls.acceptLoginToken(phone, first.url);
      await waitFor(svc, undefined, 'authenticated');
      const keys = dc.controls.authKeysOfUser(user.id).filter((k) => !k.sessionRevoked);
      expect(keys.map((k) => k.dcId)).toEqual([1]);
      expect((await svc.request('GET', '/api/telegram/me')).body.id).toBe(user.id);
      expect(await svc.stop()).toBe(0);
      again = await sandbox.service({ dataDir: svc.dataDir });
      const restored = await waitForStatus(again, (b) => b.session.validation === 'valid', 'valid after restart');
      expect(restored).toMatchObject({ state: 'authenticated', user: { id: user.id }, session: { restored: true, loginMethod: 'qr' } });

      // Migration and 2FA together, on another account: importLoginToken on DC 1 asks for the password.
      const phone2 = uniquePhone('1564');
      const user2 = dc.controls.createUser({ phone: phone2, homeDc: 1, password: 'mig-pass' });
      await again.request('POST', '/api/accounts', { id: 'mig' });
      const code = await startQr(again, '/api/accounts/mig');
      dc.controls.acceptLoginToken(phone2, code.url);
      await waitFor(again, 'mig', 'password_required');
      const done = await again.request('POST', '/api/accounts/mig/auth/verify-password', { password: 'mig-pass' });
      expect(done.body).toMatchObject({ state: 'authenticated', loginMethod: 'qr', user: { id: user2.id } });
      expect(dc.controls.authKeysOfUser(user2.id).filter((k) => !k.sessionRevoked).map((k) => k.dcId)).toEqual([1]);
      expect(await again.stop()).toBe(0);
    } finally {
      await svc.stop();
      await again?.stop();
    }
  });

  it('refreshes the code before it expires; the expired one is refused by the DC, the new one logs in', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1565');
    dc.controls.createUser({ phone });
    dc.controls.setLoginTokenLifetime(4000);
    const svc = await sandbox.service();
    try {
      const first = await startQr(svc, '/api/telegram');
      const refreshed = await waitForStatus(svc, (b) => b.qr && b.qr.url !== first.url, 'a new code', { timeoutMs: 20_000, everyMs: 100 });
      expect(Date.parse(refreshed.qr.expiresAt)).toBeGreaterThan(Date.parse(first.expiresAt));
      await waitForStatus(svc, () => Date.now() > Date.parse(first.expiresAt) + 200, 'the first code expired', { everyMs: 100 });
      expect(() => dc.controls.acceptLoginToken(phone, first.url)).toThrow(/AUTH_TOKEN_EXPIRED/);
      const current = (await svc.request('GET', '/api/telegram/auth/qr')).body;
      dc.controls.acceptLoginToken(phone, current.url);
      await waitFor(svc, undefined, 'authenticated');
    } finally {
      dc.controls.setLoginTokenLifetime(30_000);
      expect(await svc.stop()).toBe(0);
    }
  });

  it('survives a restart while qr_pending: a new code after the restart, which logs in', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1566');
    const user = dc.controls.createUser({ phone });
    const svc = await sandbox.service();
    let again: ServiceProcess | undefined;
    try {
      const first = await startQr(svc, '/api/telegram');
      expect(await svc.stop()).toBe(0);
      again = await sandbox.service({ dataDir: svc.dataDir });
      const pending = await waitForStatus(again, (b) => b.state === 'qr_pending' && b.qr !== undefined, 'qr_pending with a code', { everyMs: 100 });
      await again.waitForLog(LOG_MESSAGES.qrRestored);
      // Same key, same DC: the sandbox shows it the code it had until it expires — either is fine to scan.
      dc.controls.acceptLoginToken(phone, pending.qr.url);
      const done = await waitFor(again, undefined, 'authenticated');
      expect(done.user.id).toBe(user.id);
      expect(first.url).toMatch(/^tg:/);
      expect(await again.stop()).toBe(0);
    } finally {
      await svc.stop();
      await again?.stop();
    }
  });

  it('is cancelled by logout and by a login by code; a new QR login replaces the one in progress with a new key', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1567');
    dc.controls.createUser({ phone });
    const svc = await sandbox.service();
    try {
      const keysBefore = dc.controls.listAuthKeys().length;
      const first = await startQr(svc, '/api/telegram');
      expect((await svc.request('POST', '/api/telegram/auth/logout')).body).toEqual({ state: 'logged_out' });
      const out = await svc.request('GET', '/api/telegram/status');
      expect(out.body.state).toBe('logged_out');
      expect(out.body.qr).toBeUndefined();

      const second = await startQr(svc, '/api/telegram');
      const third = await startQr(svc, '/api/telegram'); // replaces the second (its client and key dropped)
      expect(new Set([first.url, second.url, third.url]).size).toBe(3);
      expect(dc.controls.listAuthKeys().length).toBeGreaterThanOrEqual(keysBefore + 3);

      // A login by code cancels the QR login in progress.
      const sent = await svc.request('POST', '/api/telegram/auth/send-code', { phone });
      expect(sent.body.state).toBe('code_sent');
      expect((await svc.request('GET', '/api/telegram/status')).body.qr).toBeUndefined();
      const done = await svc.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) });
      expect(done.body).toMatchObject({ state: 'authenticated', loginMethod: 'code' });
      // The cancelled attempt's loop is gone: nothing changes the account afterwards.
      await new Promise((r) => setTimeout(r, 500));
      expect((await svc.request('GET', '/api/telegram/status')).body).toMatchObject({ state: 'authenticated', session: { loginMethod: 'code' } });

      // While a login by code waits for its code, a QR login is refused (finish it or log out). Another
      // number: this one would now log in at once with the future auth token its logout left.
      await svc.request('POST', '/api/telegram/auth/logout');
      const other = uniquePhone('1568');
      dc.controls.createUser({ phone: other });
      expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone: other })).body.state).toBe('code_sent');
      const refused = await svc.request('POST', '/api/telegram/auth/qr');
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('LOGIN_IN_PROGRESS');
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('a code not scanned within QR_LOGIN_TIMEOUT ends the attempt: logged_out, reason QR_LOGIN_EXPIRED', async () => {
    const dc = sandbox.dc;
    dc.controls.setLoginTokenLifetime(2500);
    const svc = await sandbox.service({ env: { QR_LOGIN_TIMEOUT: '3s' } });
    try {
      await startQr(svc, '/api/telegram');
      const ended = await waitForStatus(svc, (b) => b.state === 'logged_out', 'logged_out', { timeoutMs: 20_000, everyMs: 200 });
      expect(ended.reason).toBe('QR_LOGIN_EXPIRED');
    } finally {
      dc.controls.setLoginTokenLifetime(30_000);
      expect(await svc.stop()).toBe(0);
    }
  });
});
