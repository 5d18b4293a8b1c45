/**
 * Restarts of the real service process on the same data directory: restore without a login, a login in
 * progress across a restart, an expired auth state.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TEST_CODE, TEST_PHONE, waitForStatus } from '../helpers/sandbox-service.js';
import { accountFile } from '../helpers/layout.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';
import { sandboxPerFile } from '../helpers/service-process.js';

const sandbox = sandboxPerFile();
const service = sandbox.service;

describe('restarts of the real process', () => {
  it('restart → authenticated without a login, the restore line logged, validation valid, same key at the DC', async () => {
    const first = await service();
    await first.request('POST', '/api/telegram/auth/send-code', { phone: TEST_PHONE });
    const done = await first.request('POST', '/api/telegram/auth/verify-code', { code: TEST_CODE });
    expect(done.body.state).toBe('authenticated');
    expect(await first.stop()).toBe(0);
    const keysBefore = sandbox.dc.controls.authKeysOfUser(TEST_PHONE).map((k) => k.authKeyId).sort();

    const second = await service({ dataDir: first.dataDir });
    try {
      const at = await second.request('GET', '/api/telegram/status');
      expect(at.body).toMatchObject({ state: 'authenticated', authenticated: true, session: { restored: true } });
      await second.waitForLog(LOG_MESSAGES.sessionRestored);
      const valid = await waitForStatus(second, (b) => b.session.validation === 'valid', 'valid', { timeoutMs: 20_000 });
      expect(valid).toMatchObject({ state: 'authenticated', user: { id: done.body.user.id }, session: { connection: 'online', restored: true } });
      expect(sandbox.dc.controls.authKeysOfUser(TEST_PHONE).map((k) => k.authKeyId).sort()).toEqual(keysBefore);
      expect(second.logLines().some((l) => l.msg === LOG_MESSAGES.accountState('code_sent'))).toBe(false);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });

  it('restart between send-code and verify-code → verify-code works', async () => {
    const first = await service();
    expect((await first.request('POST', '/api/telegram/auth/send-code', { phone: TEST_PHONE })).status).toBe(200);
    expect(await first.stop()).toBe(0);

    const second = await service({ dataDir: first.dataDir });
    try {
      expect((await second.request('GET', '/api/telegram/status')).body.state).toBe('code_sent');
      const done = await second.request('POST', '/api/telegram/auth/verify-code', { code: TEST_CODE });
      expect(done.status).toBe(200);
      expect(done.body.state).toBe('authenticated');
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });

  it('auth state older than SESSION_MAX_IDLE → expired, files kept', async () => {
    const first = await service();
    await first.request('POST', '/api/telegram/auth/send-code', { phone: TEST_PHONE });
    await first.request('POST', '/api/telegram/auth/verify-code', { code: TEST_CODE });
    expect(await first.stop()).toBe(0);
    await new Promise((r) => setTimeout(r, 1100));

    const second = await service({ dataDir: first.dataDir, env: { SESSION_MAX_IDLE: '1s' } });
    try {
      const status = await second.request('GET', '/api/telegram/status');
      expect(status.body).toMatchObject({ state: 'expired', authenticated: false });
      expect(fs.existsSync(accountFile(second.dataDir, 'session.json'))).toBe(true);
      expect(fs.existsSync(accountFile(second.dataDir, 'auth_state.json'))).toBe(true);
      const me = await second.request('GET', '/api/telegram/me');
      expect(me.status).toBe(401);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});
