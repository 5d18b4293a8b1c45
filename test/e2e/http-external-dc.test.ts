/**
 * The HTTP layer against an external sandbox DC driven by its controls: FLOOD_WAIT → 429 + Retry-After,
 * a graceful stop that lets an in-flight request finish, and start-up failures that say what to do.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type ServiceProcess } from '../helpers/service-process.js';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const PHONE = '+9996621234';

describe('HTTP API with an external sandbox DC', () => {
  let dc: TestSandbox;

  beforeAll(async () => {
    dc = await startTestSandbox();
  });
  afterAll(async () => {
    await dc?.dispose();
  });

  it('says which DC it talks to in the sandbox banner', async () => {
    const svc = await startService({ dc });
    try {
      const { host, port } = dc.dcs.find((d) => d.id === 2)!;
      await svc.waitForLog(`talking to the external sandbox DC at ${host}:${port}, not to Telegram.`);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('FLOOD_WAIT from Telegram → 429 FLOOD_WAIT with Retry-After', async () => {
    const svc = await startService({ dc });
    try {
      dc.controls.injectFloodWait('auth.sendCode', 42, 1);
      const res = await svc.request('POST', '/api/telegram/auth/send-code', { phone: PHONE });
      expect(res.status).toBe(429);
      expect(res.body).toEqual({ error: { code: 'FLOOD_WAIT', message: expect.any(String) } });
      const retryAfter = Number(res.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(40);
      expect(retryAfter).toBeLessThanOrEqual(42);
    } finally {
      dc.controls.clearInjectedErrors();
      await svc.stop();
    }
  });

  describe('graceful stop', () => {
    let svc: ServiceProcess;
    beforeAll(async () => {
      svc = await startService({ dc, env: { LOGIN_RATE_LIMIT: '0' } });
      expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone: PHONE })).status).toBe(200);
      const verified = await svc.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(PHONE) });
      expect(verified.body.state).toBe('authenticated');
    });
    afterAll(async () => {
      dc.controls.setAnswerDelay(0);
      await svc?.kill9();
    });

    it('SIGTERM lets a request in flight finish, then exits 0', async () => {
      dc.controls.setAnswerDelay(1500);
      const inFlight = svc.request('GET', '/api/telegram/me');
      // Give the request time to reach the service and the DC (it then waits 1.5 s for the answer).
      await new Promise((resolve) => setTimeout(resolve, 400));
      svc.proc.kill('SIGTERM');
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ phone: PHONE });
      const { code } = await svc.exited;
      expect(code, JSON.stringify(svc.logLines().slice(-12), null, 1)).toBe(0);
      expect(svc.logLines().map((l) => l.msg)).toContain(LOG_MESSAGES.stopped);
    });
  });

  it('an HTTP port in use: exit 1 with a message that says what to do', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const svc = await startService({ dc, env: { PORT: String(port) }, noWait: true });
      const { code } = await svc.exited;
      expect(code).toBe(1);
      expect(svc.output().stderr).toContain(`could not listen on 127.0.0.1:${port}`);
      expect(svc.output().stderr).toContain('set PORT to a free port');
      expect(svc.logLines().some((l) => l.level === 60 && String(l.msg).startsWith(LOG_MESSAGES.startupFailed('')))).toBe(true);
    } finally {
      blocker.close();
    }
  });
});
