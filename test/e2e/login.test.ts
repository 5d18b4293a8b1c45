/**
 * Login over HTTP through the real service process against a sandbox DC over TCP (the DC runs in this
 * test process so the test can drive its controls): by code, with 2FA, refusals that keep the state,
 * steps out of order, FLOOD_WAIT → 429, logout at the DC and on disk, file modes.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';
import { TEST_CODE, TEST_PHONE, uniquePhone } from '../helpers/sandbox-service.js';
import { accountFile } from '../helpers/layout.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const sandbox = sandboxPerFile();
const service = sandbox.service;

const mode = (file: string): number => fs.statSync(file).mode & 0o777;

describe('login over HTTP (real process, sandbox DC over TCP)', () => {
  it('logs in by code; files 0600 in a 0700 directory; status authenticated; /me answers', async () => {
    const svc = await service();
    try {
      const sent = await svc.request('POST', '/api/telegram/auth/send-code', { phone: TEST_PHONE });
      expect(sent.status).toBe(200);
      expect(sent.body).toMatchObject({ state: 'code_sent', codeLength: 5 });
      const done = await svc.request('POST', '/api/telegram/auth/verify-code', { code: TEST_CODE });
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ state: 'authenticated', user: { phone: TEST_PHONE } });

      const status = await svc.request('GET', '/api/telegram/status');
      expect(status.body).toMatchObject({
        state: 'authenticated',
        authenticated: true,
        environment: 'sandbox',
        user: { phone: '+9996***1234' },
        session: { validation: 'valid', connection: 'online', restored: false },
      });
      const me = await svc.request('GET', '/api/telegram/me');
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: done.body.user.id });

      expect(mode(svc.dataDir)).toBe(0o700);
      expect(mode(accountFile(svc.dataDir, 'session.json'))).toBe(0o600);
      expect(mode(accountFile(svc.dataDir, 'auth_state.json'))).toBe(0o600);
      const authState = JSON.parse(fs.readFileSync(accountFile(svc.dataDir, 'auth_state.json'), 'utf8'));
      expect(authState).toEqual({ user_auth: true, user_id: done.body.user.id, phone: TEST_PHONE, saved_at: expect.any(String), version: '1.0' });
      expect(svc.logLines().some((l) => l.msg === LOG_MESSAGES.accountState('authenticated') && l.phone === '+9996***1234')).toBe(true);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('logs in with 2FA; wrong code, wrong password and an expired code are 4xx and leave the state as it was', async () => {
    const phone = uniquePhone('1557');
    const password = 'e2e-2fa-password-!';
    sandbox.dc.controls.createUser({ phone, firstName: 'Eve', password, hint: 'e2e hint' });
    const svc = await service();
    try {
      expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone })).status).toBe(200);
      const right = sandbox.dc.controls.lastCode(phone)!;
      const wrong = await svc.request('POST', '/api/telegram/auth/verify-code', { code: right === '11111' ? '22222' : '11111' });
      expect(wrong.status).toBe(400);
      expect(wrong.body.error.code).toBe('PHONE_CODE_INVALID');
      expect((await svc.request('GET', '/api/telegram/status')).body.state).toBe('code_sent');

      sandbox.dc.controls.setCodeLifetime(1);
      try {
        expect((await svc.request('POST', '/api/telegram/auth/resend-code')).status).toBe(200);
        await new Promise((r) => setTimeout(r, 50));
        const expired = await svc.request('POST', '/api/telegram/auth/verify-code', { code: sandbox.dc.controls.lastCode(phone) });
        expect(expired.status).toBe(400);
        expect(expired.body.error.code).toBe('PHONE_CODE_EXPIRED');
        expect((await svc.request('GET', '/api/telegram/status')).body.state).toBe('code_sent');
      } finally {
        sandbox.dc.controls.setCodeLifetime(5 * 60_000);
      }

      // An expired code needs a new one: send-code again (as on Telegram, resend of an expired hash is refused).
      expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone })).status).toBe(200);
      const code = sandbox.dc.controls.lastCode(phone)!;
      const step = await svc.request('POST', '/api/telegram/auth/verify-code', { code });
      expect(step.body).toEqual({ state: 'password_required', hint: 'e2e hint' });

      const bad = await svc.request('POST', '/api/telegram/auth/verify-password', { password: 'wrong-password' });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('PASSWORD_HASH_INVALID');
      expect((await svc.request('GET', '/api/telegram/status')).body.state).toBe('password_required');

      const done = await svc.request('POST', '/api/telegram/auth/verify-password', { password });
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ state: 'authenticated', user: { firstName: 'Eve' } });

      const everything = fs.readFileSync(svc.logFile, 'utf8') + fs.readFileSync(accountFile(svc.dataDir, 'auth_state.json'), 'utf8');
      expect(everything).not.toContain(password);
      expect(everything).not.toContain('wrong-password');
      expect(everything).not.toContain(`"${code}"`);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('steps out of order → 409 INVALID_STEP, state unchanged', async () => {
    const svc = await service();
    try {
      const early = await svc.request('POST', '/api/telegram/auth/verify-code', { code: TEST_CODE });
      expect(early.status).toBe(409);
      expect(early.body.error.code).toBe('INVALID_STEP');
      const pw = await svc.request('POST', '/api/telegram/auth/verify-password', { password: 'x' });
      expect(pw.status).toBe(409);
      expect((await svc.request('GET', '/api/telegram/status')).body.state).toBe('logged_out');
      const me = await svc.request('GET', '/api/telegram/me');
      expect(me.status).toBe(401);
      expect(me.body.error.code).toBe('NOT_AUTHENTICATED');
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('FLOOD_WAIT → 429 with Retry-After; honoured without asking the DC, also after a restart', async () => {
    const svc = await service();
    let restarted: ServiceProcess | undefined;
    try {
      sandbox.dc.controls.injectFloodWait('auth.sendCode', 300, 1);
      const res = await svc.request('POST', '/api/telegram/auth/send-code', { phone: TEST_PHONE });
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe('FLOOD_WAIT');
      expect(Number(res.headers['retry-after'])).toBe(300);
      const status = await svc.request('GET', '/api/telegram/status');
      expect(Date.parse(status.body.floodWaitUntil)).toBeGreaterThan(Date.now() + 200_000);

      const again = await svc.request('POST', '/api/telegram/auth/send-code', { phone: TEST_PHONE });
      expect(again.status).toBe(429);
      expect(Number(again.headers['retry-after'])).toBeGreaterThan(200);
      expect(await svc.stop()).toBe(0);

      restarted = await service({ dataDir: svc.dataDir });
      const afterRestart = await restarted.request('POST', '/api/telegram/auth/send-code', { phone: TEST_PHONE });
      expect(afterRestart.status).toBe(429);
      expect(Number(afterRestart.headers['retry-after'])).toBeGreaterThan(200);
    } finally {
      sandbox.dc.controls.clearInjectedErrors();
      await svc.stop();
      if (restarted) expect(await restarted.stop()).toBe(0);
    }
  });

  it('logout → authorization gone at the DC, files gone, logged_out', async () => {
    const phone = uniquePhone('1557');
    sandbox.dc.controls.createUser({ phone, firstName: 'Lou' });
    const svc = await service();
    try {
      await svc.request('POST', '/api/telegram/auth/send-code', { phone });
      const done = await svc.request('POST', '/api/telegram/auth/verify-code', { code: sandbox.dc.controls.lastCode(phone) });
      expect(done.body.state).toBe('authenticated');
      expect(sandbox.dc.controls.authKeysOfUser(phone)).toHaveLength(1);

      const out = await svc.request('POST', '/api/telegram/auth/logout');
      expect(out.status).toBe(200);
      expect(out.body).toEqual({ state: 'logged_out' });
      expect(sandbox.dc.controls.authKeysOfUser(phone)).toHaveLength(0);
      expect(fs.existsSync(accountFile(svc.dataDir, 'auth_state.json'))).toBe(false);
      expect(fs.existsSync(accountFile(svc.dataDir, 'session.json'))).toBe(false);
      expect((await svc.request('GET', '/api/telegram/status')).body).toMatchObject({ state: 'logged_out', authenticated: false });
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });
});
