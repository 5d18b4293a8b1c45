/**
 * The seed's "Session Recovery Process" through the real service process: AUTH_KEY_UNREGISTERED at start-up
 * with a recovery that fails (the key was revoked while the service was down) and one that succeeds (a
 * transient fault), and revocation (SESSION_REVOKED).
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';
import { uniquePhone } from '../helpers/sandbox-service.js';
import { accountFile } from '../helpers/layout.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const sandbox = sandboxPerFile();
const service = sandbox.service;

/** A data dir logged in as a fresh account; the service that did it has stopped. */
async function loggedIn(): Promise<{ dataDir: string; phone: string }> {
  const phone = uniquePhone('1558');
  sandbox.dc.controls.createUser({ phone, firstName: 'Rec' });
  const svc = await service();
  await svc.request('POST', '/api/telegram/auth/send-code', { phone });
  const done = await svc.request('POST', '/api/telegram/auth/verify-code', { code: sandbox.dc.controls.lastCode(phone) });
  expect(done.body.state).toBe('authenticated');
  expect(await svc.stop()).toBe(0);
  return { dataDir: svc.dataDir, phone };
}

const messages = (svc: ServiceProcess): string[] => svc.logLines().map((l) => String(l.msg));

describe('session recovery (real process)', () => {
  it('key revoked while the service was down → recovery tried and failed, in order → logged_out with the reason', async () => {
    const { dataDir, phone } = await loggedIn();
    sandbox.dc.controls.revokeAuthKey(sandbox.dc.controls.authKeysOfUser(phone)[0]!.authKeyId);

    const svc = await service({ dataDir });
    try {
      await svc.waitForLog(LOG_MESSAGES.accountState('logged_out'));
      const status = await svc.request('GET', '/api/telegram/status');
      expect(status.body).toMatchObject({ state: 'logged_out', authenticated: false, reason: 'AUTH_KEY_UNREGISTERED' });
      const log = messages(svc);
      const attempting = log.indexOf(LOG_MESSAGES.recoveryAttempt);
      expect(attempting).toBeGreaterThanOrEqual(0);
      expect(log.indexOf(LOG_MESSAGES.recoveryFailed)).toBeGreaterThan(attempting);
      expect(log.indexOf(LOG_MESSAGES.accountState('logged_out'))).toBeGreaterThan(log.indexOf(LOG_MESSAGES.recoveryFailed));
      expect(log).not.toContain(LOG_MESSAGES.recoverySucceeded);
      expect(log).not.toContain(LOG_MESSAGES.sessionRestored);
      expect(fs.existsSync(accountFile(dataDir, 'auth_state.json'))).toBe(false);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('a transient AUTH_KEY_UNREGISTERED at start-up → recovery succeeds → restored, still authenticated', async () => {
    const { dataDir } = await loggedIn();
    sandbox.dc.controls.injectError('users.getUsers', { code: 401, message: 'AUTH_KEY_UNREGISTERED' }, 1);

    const svc = await service({ dataDir });
    try {
      await svc.waitForLog(LOG_MESSAGES.sessionRestored);
      const log = messages(svc);
      const attempting = log.indexOf(LOG_MESSAGES.recoveryAttempt);
      const recovered = log.indexOf(LOG_MESSAGES.recoverySucceeded);
      expect(attempting).toBeGreaterThanOrEqual(0);
      expect(recovered).toBeGreaterThan(attempting);
      expect(log.indexOf(LOG_MESSAGES.sessionRestored)).toBeGreaterThan(recovered);
      expect(log).not.toContain(LOG_MESSAGES.recoveryFailed);
      const status = await svc.request('GET', '/api/telegram/status');
      expect(status.body).toMatchObject({ state: 'authenticated', session: { validation: 'valid' } });
      expect(fs.existsSync(accountFile(dataDir, 'auth_state.json'))).toBe(true);
    } finally {
      sandbox.dc.controls.clearInjectedErrors();
      expect(await svc.stop()).toBe(0);
    }
  });

  it('SESSION_REVOKED → revoked with the reason; dead key and auth state cleared', async () => {
    const { dataDir, phone } = await loggedIn();
    sandbox.dc.controls.terminateSession(sandbox.dc.controls.authKeysOfUser(phone)[0]!.authKeyId);
    const svc = await service({ dataDir });
    try {
      await svc.waitForLog(LOG_MESSAGES.accountState('revoked'));
      const status = await svc.request('GET', '/api/telegram/status');
      expect(status.body).toMatchObject({ state: 'revoked', authenticated: false, reason: 'SESSION_REVOKED' });
      expect(fs.existsSync(accountFile(dataDir, 'auth_state.json'))).toBe(false);
      // Logging in again from revoked works.
      await svc.request('POST', '/api/telegram/auth/send-code', { phone });
      const again = await svc.request('POST', '/api/telegram/auth/verify-code', { code: sandbox.dc.controls.lastCode(phone) });
      expect(again.body.state).toBe('authenticated');
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });
});
