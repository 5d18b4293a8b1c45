/**
 * Network faults through the real service process: the DC down at start-up never logs anyone out; the
 * session comes back to `valid` when the DC returns, without a new login.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sandboxPerFile, type ServiceProcess, TEST_ENV } from '../helpers/service-process.js';
import { TEST_CODE, TEST_PHONE, waitForStatus } from '../helpers/sandbox-service.js';
import { accountFile } from '../helpers/layout.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const sandbox = sandboxPerFile({ ...TEST_ENV, CLIENT_READY_TIMEOUT: '1s' });
const service = sandbox.service;

describe('network faults (real process)', () => {
  it('DC down at start-up → authenticated + offline, retries logged; DC back → valid, no new login', async () => {
    const first = await service({ env: { CLIENT_READY_TIMEOUT: '5s' } });
    await first.request('POST', '/api/telegram/auth/send-code', { phone: TEST_PHONE });
    expect((await first.request('POST', '/api/telegram/auth/verify-code', { code: TEST_CODE })).body.state).toBe('authenticated');
    expect(await first.stop()).toBe(0);
    const keysBefore = sandbox.dc.controls.authKeysOfUser(TEST_PHONE).length;

    await sandbox.dc.controls.stopListening();
    let svc: ServiceProcess | undefined;
    try {
      svc = await service({ dataDir: first.dataDir });
      expect((await svc.request('GET', '/api/telegram/status')).body.state).toBe('authenticated');
      const offline = await waitForStatus(svc, (b) => b.session.connection === 'offline', 'offline');
      expect(offline).toMatchObject({ state: 'authenticated', authenticated: true, session: { validation: 'pending' } });
      const retry = await svc.waitForLog((l) => l.msg === LOG_MESSAGES.retrying(LOG_MESSAGES.telegramConnection, Number(l.attempt), Number(l.delayMs)));
      expect(retry).toMatchObject({ attempt: 1, delayMs: expect.any(Number) });
      const me = await svc.request('GET', '/api/telegram/me');
      expect(me.status).toBe(503);
      expect(me.body.error.code).toBe('TELEGRAM_UNAVAILABLE');
      expect(fs.existsSync(accountFile(first.dataDir, 'auth_state.json'))).toBe(true);
    } finally {
      await sandbox.dc.controls.startListening();
    }
    try {
      const valid = await waitForStatus(svc, (b) => b.session.validation === 'valid', 'valid');
      expect(valid).toMatchObject({ state: 'authenticated', session: { connection: 'online' } });
      await svc.waitForLog(LOG_MESSAGES.sessionRestored);
      expect(svc.logLines().some((l) => l.msg === LOG_MESSAGES.recoveryAttempt)).toBe(false);
      expect(sandbox.dc.controls.authKeysOfUser(TEST_PHONE).length).toBe(keysBefore);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('answers slower than the timeout → offline (never logged out), then valid again', async () => {
    const first = await service({ env: { CLIENT_READY_TIMEOUT: '5s' } });
    await first.request('POST', '/api/telegram/auth/send-code', { phone: TEST_PHONE });
    await first.request('POST', '/api/telegram/auth/verify-code', { code: TEST_CODE });
    expect(await first.stop()).toBe(0);

    const svc = await service({ dataDir: first.dataDir });
    try {
      await waitForStatus(svc, (b) => b.session.validation === 'valid', 'valid');
      sandbox.dc.controls.setAnswerDelay(3000);
      try {
        const me = await svc.request('GET', '/api/telegram/me');
        expect(me.status).toBe(503);
        const status = (await svc.request('GET', '/api/telegram/status')).body;
        expect(status).toMatchObject({ state: 'authenticated', session: { connection: 'offline' } });
      } finally {
        sandbox.dc.controls.setAnswerDelay(0);
      }
      await waitForStatus(svc, (b) => b.session.connection === 'online', 'online');
      expect((await svc.request('GET', '/api/telegram/me')).status).toBe(200);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });
});
