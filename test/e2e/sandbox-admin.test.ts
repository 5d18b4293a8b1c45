/**
 * SANDBOX_DC_ADMIN_PORT: the sandbox DC that `npm start` runs inside the service gets its controls over HTTP
 * — the README's sandbox walk-through with one process: a user with 2FA made by the control and logged in,
 * a QR code "scanned" by the control, a message from one to the other read as an event. Real process, its
 * own in-process DC, everything over loopback.
 */
import { describe, expect, it } from 'vitest';
import { freePort } from '../../dev/ports.js';
import { eventually, type Body } from '../helpers/sandbox-service.js';
import { startService, TEST_ENV, type ServiceProcess } from '../helpers/service-process.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

/** A control of the DC's admin endpoint (POST with named arguments, as the README shows). */
async function control(adminUrl: string, name: string, args: Record<string, unknown> = {}): Promise<Body> {
  const res = await fetch(`${adminUrl}/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(args) });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${name} answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

async function eventTexts(svc: ServiceProcess, account: string): Promise<string[]> {
  const page = await svc.request('GET', `/api/accounts/${account}/events?after=0&limit=100`, undefined, { headers: { accept: 'application/json' } });
  return (page.body.events as Body[]).filter((e) => e.type === 'message.new').map((e) => e.message.text);
}

describe('the in-process sandbox DC with SANDBOX_DC_ADMIN_PORT (real process)', () => {
  it('its controls answer on 127.0.0.1: a 2FA user logs in, a QR code is accepted, one writes to the other', async () => {
    const adminPort = await freePort();
    const svc = await startService({ env: { ...TEST_ENV, SANDBOX_DC_ADMIN_PORT: String(adminPort) } });
    try {
      const adminUrl = `http://127.0.0.1:${adminPort}`;
      // Said where the controls are, in the sandbox line of the log.
      const banner = await svc.waitForLog(LOG_MESSAGES.sandboxBanner);
      expect(banner.adminUrl).toBe(adminUrl);
      expect(String(banner.msg)).toContain(`its controls at ${adminUrl}`);
      const listed = await (await fetch(`${adminUrl}/`)).json();
      expect(JSON.stringify(listed)).toContain('acceptLoginToken');

      // A user with a 2FA password, made by the control, logs in through the service.
      await control(adminUrl, 'createUser', { phone: '+15550001111', password: 'a-sandbox-password', username: 'dana_admin' });
      expect((await svc.request('POST', '/api/accounts', { id: 'dana' })).status).toBe(201);
      const sent = await svc.request('POST', '/api/accounts/dana/auth/send-code', { phone: '+15550001111' });
      expect(sent.status).toBe(200);
      const { code } = (await (await fetch(`${adminUrl}/lastCode?phone=${encodeURIComponent('+15550001111')}`)).json()) as { code: string };
      expect((await svc.request('POST', '/api/accounts/dana/auth/verify-code', { code })).body.state).toBe('password_required');
      expect((await svc.request('POST', '/api/accounts/dana/auth/verify-password', { password: 'a-sandbox-password' })).body.state).toBe('authenticated');

      // A QR code of another account, scanned by the control.
      await control(adminUrl, 'createUser', { phone: '+15550002222', username: 'evan_admin' });
      expect((await svc.request('POST', '/api/accounts', { id: 'evan' })).status).toBe(201);
      const qr = await svc.request('POST', '/api/accounts/evan/auth/qr');
      expect(qr.body.state).toBe('qr_pending');
      await control(adminUrl, 'acceptLoginToken', { user: '+15550002222', token: qr.body.url });
      await eventually(async () => (await svc.request('GET', '/api/accounts/evan/status')).body.state === 'authenticated', 'the QR login');
      expect((await svc.request('GET', '/api/accounts/evan/status')).body.session.loginMethod).toBe('qr');

      // One writes to the other through the control (as from the user's phone): an event of both accounts.
      await control(adminUrl, 'deliverMessage', { from: 'evan_admin', to: 'dana_admin', text: 'hello from evan' });
      await eventually(async () => (await eventTexts(svc, 'dana')).includes('hello from evan'), 'the message at dana');
      await eventually(async () => (await eventTexts(svc, 'evan')).includes('hello from evan'), 'the message at evan (out)');
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  }, 90_000);
});
