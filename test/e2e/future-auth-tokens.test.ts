/**
 * Code-free re-login with future auth tokens through the real process and the sandbox DC: the tokens
 * Telegram hands out at login and logout are kept (future_auth_tokens.json, encrypted like the session)
 * and offered at the next send-code for the same number, which then logs in without a code — after a
 * logout, an expiry or a lost session.json. Tokens the DC does not honour (expired, 2FA accounts) or a
 * send-code the DC refuses because of them → the normal code flow, no error.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { accountFile } from '../helpers/layout.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';
import { loginThrough, sleep, uniquePhone } from '../helpers/sandbox-service.js';
import { sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';

const sandbox = sandboxPerFile();
const KEY = 'a'.repeat(64);

async function sendCode(svc: ServiceProcess, phone: string, base = '/api/telegram') {
  const res = await svc.request('POST', `${base}/auth/send-code`, { phone });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

function tokensFile(svc: ServiceProcess, account = 'default'): string {
  return accountFile(svc.dataDir, 'future_auth_tokens.json', account);
}

describe('future auth tokens (real process, sandbox DC)', () => {
  it('login, logout, login again → no code asked (answer and status say so); the tokens are encrypted at rest and never logged', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1571');
    const user = dc.controls.createUser({ phone });
    const svc = await sandbox.service({ env: { SESSION_ENCRYPTION_KEY: KEY } });
    try {
      expect(await loginThrough(svc, dc, phone)).toMatchObject({ state: 'authenticated', loginMethod: 'code' });
      expect((await svc.request('POST', '/api/telegram/auth/logout')).body.state).toBe('logged_out');
      expect(fs.existsSync(accountFile(svc.dataDir, 'session.json'))).toBe(false);
      const onDisk = JSON.parse(fs.readFileSync(tokensFile(svc), 'utf8'));
      expect(Object.keys(onDisk)).toEqual(['version', 'encrypted']);
      expect(fs.statSync(tokensFile(svc)).mode & 0o777).toBe(0o600);

      const codeBefore = dc.controls.lastCode(phone);
      const again = await sendCode(svc, phone);
      expect(again).toMatchObject({ state: 'authenticated', loginMethod: 'future_auth_token', user: { id: user.id, phone } });
      expect(dc.controls.lastCode(phone)).toBe(codeBefore); // no code was issued
      const status = (await svc.request('GET', '/api/telegram/status')).body;
      expect(status).toMatchObject({ state: 'authenticated', session: { loginMethod: 'future_auth_token' } });
      expect((await svc.request('GET', '/api/telegram/me')).body.id).toBe(user.id);
      await svc.waitForLog(LOG_MESSAGES.futureTokenLogin);

      const metrics = (await svc.request('GET', '/metrics')).body as string;
      expect(metrics).toContain('telegram_service_login_attempts_total{step="send-code",outcome="authenticated"} 1');
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('after an expiry and after a lost session.json the same number logs in without a code; another number gets a code', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1572');
    dc.controls.createUser({ phone });
    const svc = await sandbox.service({ env: { SESSION_MAX_IDLE: '3s', HEALTH_PROBE_INTERVAL: '0' } });
    let again: ServiceProcess | undefined;
    try {
      await loginThrough(svc, dc, phone);
      await sleep(3500); // no API activity (a status request would count as activity)
      expect((await svc.request('GET', '/api/telegram/status')).body.state).toBe('expired');
      expect(await sendCode(svc, phone)).toMatchObject({ state: 'authenticated', loginMethod: 'future_auth_token' });

      // Tokens are kept per number: another number on the same account gets the normal code flow.
      expect((await svc.request('POST', '/api/telegram/auth/logout')).status).toBe(200);
      const other = uniquePhone('1572');
      dc.controls.createUser({ phone: other });
      expect(await sendCode(svc, other)).toMatchObject({ state: 'code_sent' });
      expect((await svc.request('POST', '/api/telegram/auth/logout')).status).toBe(200);

      // Logged in, then session.json is lost while the service is down: the token of that login remains.
      expect(await sendCode(svc, phone)).toMatchObject({ state: 'authenticated' });
      expect(await svc.stop()).toBe(0);
      fs.rmSync(accountFile(svc.dataDir, 'session.json'));
      fs.rmSync(accountFile(svc.dataDir, 'session.json.bak'), { force: true });
      again = await sandbox.service({ dataDir: svc.dataDir, env: { HEALTH_PROBE_INTERVAL: '0' } });
      expect((await again.request('GET', '/api/telegram/status')).body.state).toBe('logged_out');
      const codeBefore = dc.controls.lastCode(phone);
      expect(await sendCode(again, phone)).toMatchObject({ state: 'authenticated', loginMethod: 'future_auth_token' });
      expect(dc.controls.lastCode(phone)).toBe(codeBefore);
      expect(await again.stop()).toBe(0);
    } finally {
      await svc.stop();
      await again?.stop();
    }
  });

  it('tokens the DC does not honour, or a send-code it refuses because of them → the normal code flow, no error', async () => {
    const dc = sandbox.dc;
    const phone = uniquePhone('1573');
    dc.controls.createUser({ phone });
    const twoFa = uniquePhone('1573');
    dc.controls.createUser({ phone: twoFa, password: 'tf-pass' });
    const svc = await sandbox.service();
    try {
      // Expired tokens: ignored by the DC, a code is sent.
      dc.controls.setFutureAuthTokenLifetime(1);
      await loginThrough(svc, dc, phone);
      await svc.request('POST', '/api/telegram/auth/logout');
      dc.controls.setFutureAuthTokenLifetime(30 * 24 * 3600_000);
      await sleep(50);
      expect(await sendCode(svc, phone)).toMatchObject({ state: 'code_sent' });
      const done = await svc.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) });
      expect(done.body).toMatchObject({ state: 'authenticated', loginMethod: 'code' });
      await svc.request('POST', '/api/telegram/auth/logout');

      // Valid tokens, but the DC refuses the send-code that carries them: asked again without them.
      dc.controls.injectError('auth.sendCode', { code: 400, message: 'FUTURE_AUTH_TOKEN_INVALID' }, 1);
      expect(await sendCode(svc, phone)).toMatchObject({ state: 'code_sent' });
      await svc.waitForLog(LOG_MESSAGES.futureTokensRefused);
      await svc.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) });
      await svc.request('POST', '/api/telegram/auth/logout');

      // A 2FA account earns tokens too, but they would skip only the code: the code and password are asked.
      await loginThrough(svc, dc, twoFa, 'tf-pass');
      await svc.request('POST', '/api/telegram/auth/logout');
      expect(await sendCode(svc, twoFa)).toMatchObject({ state: 'code_sent' });
      const verified = await svc.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(twoFa) });
      expect(verified.body.state).toBe('password_required');

      // Never in a log line: the tokens as the file holds them (plaintext without SESSION_ENCRYPTION_KEY).
      const kept = JSON.parse(fs.readFileSync(tokensFile(svc), 'utf8')).tokens as { token: string }[];
      expect(kept.length).toBeGreaterThan(0);
      const log = fs.readFileSync(svc.logFile, 'utf8');
      for (const { token } of kept) {
        expect(log).not.toContain(token);
        expect(log).not.toContain(Buffer.from(token, 'base64').toString('hex'));
      }
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });
});
