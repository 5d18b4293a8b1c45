/**
 * Prometheus metrics through the real process: scraped and parsed after logins, a flood wait, a restart
 * and a revocation — names and values checked; the admin token or METRICS_TOKEN reads them, a scoped
 * token gets 403, no token 401; no phone number or token anywhere in them. Events: journal size, events
 * journaled, webhook backlog and lag per account while the receiver is down and after it is back; a deleted
 * account's series are gone.
 */
import { describe, expect, it } from 'vitest';
import { webhookReceiver } from '../../dev/event-clients.js';
import { eventually, loginThrough, uniquePhone, waitForStatus } from '../helpers/sandbox-service.js';
import { sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';

const METRICS_TOKEN = 'metrics-reader-token-0123456789';
const sandbox = sandboxPerFile();

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The text exposition format → samples (comments skipped). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(match, `a well-formed sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const pair of match![2]?.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g) ?? []) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match![1]!, labels, value: Number(match![3]) });
  }
  return samples;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(svc: ServiceProcess, token?: string | null): Promise<{ status: number; text: string; samples: Sample[] }> {
  const res = await svc.request('GET', '/metrics', undefined, token === undefined ? {} : { token });
  const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
  return { status: res.status, text, samples: res.status === 200 ? parse(text) : [] };
}

describe('GET /metrics (real process)', () => {
  it('counts accounts by state, logins by outcome, flood waits, validations, revocations and HTTP requests by route', async () => {
    const dc = sandbox.dc;
    const svc = await sandbox.service({ env: { METRICS_TOKEN } });
    const [alice, bob] = [uniquePhone(), uniquePhone()];
    for (const phone of [alice, bob]) dc.controls.createUser({ phone });
    for (const id of ['alice', 'bob', 'idle']) await svc.request('POST', '/api/accounts', { id });
    await loginThrough(svc, dc, alice, undefined, 'alice');
    await loginThrough(svc, dc, bob, undefined, 'bob');
    expect((await svc.request('POST', '/api/accounts/idle/auth/verify-code', { code: '12345' })).status).toBe(409);
    // Short: the deadline is kept across the restart below, and validation waits for it.
    dc.controls.injectFloodWait('users.getUsers', 4, 1);
    expect((await svc.request('GET', '/api/accounts/alice/me')).status).toBe(429);

    const first = await scrape(svc);
    expect(first.status).toBe(200);
    const s = first.samples;
    expect(value(s, 'telegram_service_accounts', { state: 'authenticated' })).toBe(2);
    expect(value(s, 'telegram_service_accounts', { state: 'logged_out' })).toBe(1);
    expect(value(s, 'telegram_service_accounts', { state: 'revoked' })).toBe(0);
    expect(value(s, 'telegram_service_login_attempts_total', { step: 'send-code', outcome: 'code_sent' })).toBe(2);
    expect(value(s, 'telegram_service_login_attempts_total', { step: 'verify-code', outcome: 'authenticated' })).toBe(2);
    expect(value(s, 'telegram_service_login_attempts_total', { step: 'verify-code', outcome: 'INVALID_STEP' })).toBe(1);
    expect(value(s, 'telegram_service_flood_waits_total', { method: 'users.getUsers' })).toBe(1);
    expect(value(s, 'telegram_service_flood_wait_seconds_total', { method: 'users.getUsers' })).toBe(4);
    expect(value(s, 'telegram_service_http_requests_total', { route: '/api/accounts', method: 'POST', status: '201' })).toBe(3);
    expect(value(s, 'telegram_service_http_requests_total', { route: '/api/accounts/:id/me', status: '429' })).toBe(1);
    expect(value(s, 'telegram_service_http_request_duration_seconds_count', { route: '/api/accounts/:id/auth/send-code' })).toBe(2);
    expect(value(s, 'telegram_service_process_resident_memory_bytes')).toBeGreaterThan(0);
    // No phone number, no token, no account data beyond counts.
    for (const secret of [alice, bob, alice.slice(1), bob.slice(1), svc.token, METRICS_TOKEN]) expect(first.text).not.toContain(secret);

    // A restart: both sessions validated in the background; then one is revoked at the DC.
    expect(await svc.stop()).toBe(0);
    const again = await sandbox.service({ dataDir: svc.dataDir, env: { METRICS_TOKEN } });
    for (const id of ['alice', 'bob']) await waitForStatus(again, (b) => b.session.validation === 'valid', `${id} valid`, { account: id });
    for (const key of dc.controls.authKeysOfUser(bob)) dc.controls.terminateSession(key.authKeyId);
    expect((await again.request('GET', '/api/accounts/bob/me')).body.error.code).toBe('SESSION_REVOKED');
    const second = (await scrape(again, METRICS_TOKEN)).samples;
    expect(value(second, 'telegram_service_validations_total', { outcome: 'valid' })).toBeGreaterThanOrEqual(2);
    expect(value(second, 'telegram_service_revocations_total', { reason: 'SESSION_REVOKED' })).toBe(1);
    expect(value(second, 'telegram_service_accounts', { state: 'revoked' })).toBe(1);
    expect(value(second, 'telegram_service_accounts', { state: 'authenticated' })).toBe(1);
  });

  it('per account: events journaled, journal size, webhook backlog and lag — while the receiver is down, then delivered; a deleted account loses its series', async () => {
    const dc = sandbox.dc;
    const svc = await sandbox.service({ env: { WEBHOOK_RETRY_MAX: '1s' } });
    const [sender, hooked, quiet] = [uniquePhone(), uniquePhone(), uniquePhone()];
    for (const phone of [sender, hooked, quiet]) dc.controls.createUser({ phone });
    for (const id of ['hooked', 'quiet']) await svc.request('POST', '/api/accounts', { id });
    await loginThrough(svc, dc, hooked, undefined, 'hooked');
    await loginThrough(svc, dc, quiet, undefined, 'quiet');
    const secret = 'a-metrics-webhook-secret';
    const receiver = await webhookReceiver(secret);
    try {
      expect((await svc.request('PUT', '/api/accounts/hooked/webhook', { url: receiver.url, secret })).status).toBe(200);
      const idle = (await scrape(svc)).samples;
      expect(value(idle, 'telegram_service_webhook_backlog_events', { account: 'hooked' })).toBe(0);
      expect(value(idle, 'telegram_service_webhook_lag_seconds', { account: 'hooked' })).toBe(0);
      // An account without a webhook has journal series but no delivery series.
      expect(idle.some((x) => x.name === 'telegram_service_events_journal_bytes' && x.labels.account === 'quiet')).toBe(true);
      expect(idle.some((x) => x.name.startsWith('telegram_service_webhook_') && x.labels.account === 'quiet')).toBe(false);

      // The receiver goes away (connections refused); a message arrives and cannot be delivered.
      await receiver.down();
      dc.controls.deliverMessage(sender, hooked, 'counted, not yet delivered');
      const failing = await waitForStatus(svc, (b) => b.events.lastId >= 1 && b.webhook.failures >= 1, 'a failed delivery', { account: 'hooked' });
      const down = await scrape(svc);
      const d = down.samples;
      const held = failing.events.lastId - failing.events.firstId + 1;
      expect(value(d, 'telegram_service_events_journaled_total', { account: 'hooked' })).toBe(failing.events.lastId);
      expect(value(d, 'telegram_service_events_journal_events', { account: 'hooked' })).toBe(held);
      expect(value(d, 'telegram_service_events_journal_bytes', { account: 'hooked' })).toBeGreaterThan(0);
      expect(value(d, 'telegram_service_events_pending', { account: 'hooked' })).toBe(0);
      expect(value(d, 'telegram_service_webhook_backlog_events', { account: 'hooked' })).toBeGreaterThanOrEqual(1);
      expect(value(d, 'telegram_service_webhook_backlog_events', { account: 'hooked' })).toBe(failing.webhook.backlog);
      expect(value(d, 'telegram_service_webhook_lag_seconds', { account: 'hooked' })).toBeGreaterThan(0);
      expect(value(d, 'telegram_service_events_journaled_total', { account: 'quiet' })).toBe(0);
      // Labelled by the account id alone: no phone number, no token, no message text.
      for (const sample of d.filter((x) => /^telegram_service_(events|webhook)_/.test(x.name))) expect(Object.keys(sample.labels)).toEqual(['account']);
      for (const secretText of [sender, hooked, quiet, hooked.slice(1), svc.token, secret, 'counted, not yet delivered']) expect(down.text).not.toContain(secretText);

      // The receiver is back: the backlog drains and the lag is 0 again.
      await receiver.up();
      await waitForStatus(svc, (b) => b.webhook.backlog === 0, 'the backlog delivered', { account: 'hooked', timeoutMs: 20_000 });
      expect(receiver.accepted.map((e) => e.message?.text)).toContain('counted, not yet delivered');
      const up = (await scrape(svc)).samples;
      expect(value(up, 'telegram_service_webhook_backlog_events', { account: 'hooked' })).toBe(0);
      expect(value(up, 'telegram_service_webhook_lag_seconds', { account: 'hooked' })).toBe(0);
      expect(value(up, 'telegram_service_events_journaled_total', { account: 'hooked' })).toBeGreaterThanOrEqual(1);

      // A deleted account's series go with it.
      expect((await svc.request('DELETE', '/api/accounts/quiet')).status).toBe(204);
      const after = await eventually(async () => {
        const samples = (await scrape(svc)).samples;
        return samples.some((x) => x.labels.account === 'quiet') ? undefined : samples;
      }, 'the deleted account gone from /metrics');
      expect(after.some((x) => x.name === 'telegram_service_events_journal_bytes' && x.labels.account === 'hooked')).toBe(true);
    } finally {
      await receiver.close();
    }
  });

  it('admin token or METRICS_TOKEN: 200; an account-scoped token: 403; none or a wrong one: 401', async () => {
    const svc = await sandbox.service({ env: { METRICS_TOKEN } });
    await svc.request('POST', '/api/accounts', { id: 'scoped' });
    const { token } = (await svc.request('POST', '/api/accounts/scoped/tokens')).body;
    expect((await scrape(svc)).status).toBe(200);
    expect((await scrape(svc, METRICS_TOKEN)).status).toBe(200);
    expect((await scrape(svc, token)).status).toBe(403);
    expect((await scrape(svc, null)).status).toBe(401);
    expect((await scrape(svc, `${METRICS_TOKEN}x`)).status).toBe(401);
    // The metrics token reaches nothing else.
    expect((await svc.request('GET', '/api/accounts', undefined, { token: METRICS_TOKEN })).status).toBe(401);
  });
});
