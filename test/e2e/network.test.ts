/**
 * Network faults through the real service process: the DC down at start-up never logs anyone out; the
 * session comes back to `valid` when the DC returns, without a new login.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import type { ServiceProcess } from '../helpers/service-process.js';
import { RESTORED, serviceOn, waitForStatus } from '../helpers/sandbox-service.js';

const PHONE = '+9996621234';
const CODE = '22222';

let dc: TestSandbox;
beforeAll(async () => {
  dc = await startTestSandbox();
});
afterAll(async () => {
  await dc?.dispose();
});

function service(opts: { dataDir?: string; env?: Record<string, string> } = {}): Promise<ServiceProcess> {
  return serviceOn(dc, { ...opts, env: { LOGIN_RATE_LIMIT: '1000/1m', CLIENT_READY_TIMEOUT: '1s', RETRY_MAX_DELAY: '500', ...opts.env } });
}

describe('network faults (real process)', () => {
  it('DC down at start-up → authenticated + offline, retries logged; DC back → valid, no new login', async () => {
    const first = await service({ env: { CLIENT_READY_TIMEOUT: '5s' } });
    await first.request('POST', '/api/telegram/auth/send-code', { phone: PHONE });
    expect((await first.request('POST', '/api/telegram/auth/verify-code', { code: CODE })).body.state).toBe('authenticated');
    expect(await first.stop()).toBe(0);
    const keysBefore = dc.controls.authKeysOfUser(PHONE).length;

    await dc.controls.stopListening();
    let svc: ServiceProcess | undefined;
    try {
      svc = await service({ dataDir: first.dataDir });
      expect((await svc.request('GET', '/api/telegram/status')).body.state).toBe('authenticated');
      const offline = await waitForStatus(svc, (b) => b.session.connection === 'offline', 'offline');
      expect(offline).toMatchObject({ state: 'authenticated', authenticated: true, session: { validation: 'pending' } });
      const retry = await svc.waitForLog(/^Retrying Telegram connection/);
      expect(retry).toMatchObject({ attempt: 1, delayMs: expect.any(Number) });
      const me = await svc.request('GET', '/api/telegram/me');
      expect(me.status).toBe(503);
      expect(me.body.error.code).toBe('TELEGRAM_UNAVAILABLE');
      expect(fs.existsSync(path.join(first.dataDir, 'auth_state.json'))).toBe(true);
    } finally {
      await dc.controls.startListening();
    }
    try {
      const valid = await waitForStatus(svc, (b) => b.session.validation === 'valid', 'valid');
      expect(valid).toMatchObject({ state: 'authenticated', session: { connection: 'online' } });
      await svc.waitForLog(RESTORED);
      expect(svc.logLines().some((l) => l.msg === 'Attempting session recovery')).toBe(false);
      expect(dc.controls.authKeysOfUser(PHONE).length).toBe(keysBefore);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('answers slower than the timeout → offline (never logged out), then valid again', async () => {
    const first = await service({ env: { CLIENT_READY_TIMEOUT: '5s' } });
    await first.request('POST', '/api/telegram/auth/send-code', { phone: PHONE });
    await first.request('POST', '/api/telegram/auth/verify-code', { code: CODE });
    expect(await first.stop()).toBe(0);

    const svc = await service({ dataDir: first.dataDir });
    try {
      await waitForStatus(svc, (b) => b.session.validation === 'valid', 'valid');
      dc.controls.setAnswerDelay(3000);
      try {
        const me = await svc.request('GET', '/api/telegram/me');
        expect(me.status).toBe(503);
        const status = (await svc.request('GET', '/api/telegram/status')).body;
        expect(status).toMatchObject({ state: 'authenticated', session: { connection: 'offline' } });
      } finally {
        dc.controls.setAnswerDelay(0);
      }
      await waitForStatus(svc, (b) => b.session.connection === 'online', 'online');
      expect((await svc.request('GET', '/api/telegram/me')).status).toBe(200);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });
});
