/**
 * Hostile input against events and webhooks, through the real process: webhook URLs that are not http(s) or
 * point at internal addresses (refused for scoped tokens, allowed by WEBHOOK_ALLOWED_HOSTS, allowed for the
 * admin), receivers that hang, answer slowly or redirect; malformed, huge and future Last-Event-IDs; SSE clients
 * that never read — clear errors, bounded memory, and the other account's events unaffected.
 */
import fs from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { LOG_MESSAGES } from '../../src/logging/messages.js';
import { type Event, sseClient, webhookReceiver } from '../../dev/event-clients.js';
import { eventually, loginThrough, uniquePhone } from '../helpers/sandbox-service.js';
import { sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';

const sandbox = sandboxPerFile();

/** An account logged in on `svc`, its DC user's phone, and a DC user who writes to it. */
async function account(svc: ServiceProcess, id: string): Promise<{ phone: string; friend: string }> {
  const phone = uniquePhone();
  const friend = uniquePhone();
  sandbox.dc.controls.createUser({ phone, firstName: id });
  sandbox.dc.controls.createUser({ phone: friend, firstName: `${id} friend` });
  expect((await svc.request('POST', '/api/accounts', { id })).status).toBe(201);
  await loginThrough(svc, sandbox.dc, phone, undefined, id);
  return { phone, friend };
}

const SECRET = 'hostile-test-secret-0123456789';

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
}

describe('webhook targets', () => {
  it('not http(s), credentials, too long: 400; a scoped token may not point at loopback, private, link-local or mapped addresses (403); the admin may', async () => {
    const svc = await sandbox.service();
    try {
      await account(svc, 'tenant');
      const token = (await svc.request('POST', '/api/accounts/tenant/tokens', {})).body.token as string;
      for (const url of ['ftp://example.com/hook', 'javascript:alert(1)', 'file:///etc/passwd', 'not a url', 'http://user:pw@127.0.0.1/hook', '//127.0.0.1/hook']) {
        const res = await svc.request('PUT', '/api/accounts/tenant/webhook', { url, secret: SECRET });
        expect(res.status, url).toBe(400);
        expect(res.body.error.code, url).toBe('WEBHOOK_URL_INVALID');
      }
      expect((await svc.request('PUT', '/api/accounts/tenant/webhook', { url: `http://example.com/${'a'.repeat(3000)}`, secret: SECRET })).status).toBe(400);
      expect((await svc.request('PUT', '/api/accounts/tenant/webhook', { url: 'http://example.com/', secret: 'short' })).status).toBe(400);
      for (const url of [
        `http://127.0.0.1:${svc.port}/api/accounts`, // the service itself
        'http://169.254.169.254/latest/meta-data/', // cloud metadata
        'http://10.0.0.1/hook',
        'http://192.168.1.10/hook',
        'http://[::1]/hook',
        'http://[::ffff:127.0.0.1]/hook',
        'http://[fd00::1]/hook',
        'http://0.0.0.0/hook',
        `http://localhost:${svc.port}/`,
      ]) {
        const res = await svc.request('PUT', '/api/accounts/tenant/webhook', { url, secret: SECRET }, { token });
        expect(res.status, url).toBe(403);
        expect(res.body.error.code, url).toBe('WEBHOOK_URL_FORBIDDEN');
      }
      expect((await svc.request('GET', '/api/accounts/tenant/webhook', undefined, { token })).status).toBe(404);
      const admin = await svc.request('PUT', '/api/accounts/tenant/webhook', { url: 'http://127.0.0.1:9/hook', secret: SECRET });
      expect(admin).toMatchObject({ status: 200, body: { setBy: 'admin' } });
      expect((await svc.request('DELETE', '/api/accounts/tenant/webhook', undefined, { token })).status).toBe(204);
      expect((await svc.request('DELETE', '/api/accounts/tenant/webhook', undefined, { token })).status).toBe(404);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  }, 60_000);

  it('WEBHOOK_ALLOWED_HOSTS lets a scoped token use a listed internal receiver; receivers that hang, are slow or redirect are retried, shown in the status, never followed', async () => {
    const svc = await sandbox.service({ env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_TIMEOUT: '1s', WEBHOOK_RETRY_MAX: '500' } });
    const receiver = await webhookReceiver(SECRET, { slowMs: 400 });
    try {
      const { phone, friend } = await account(svc, 'hooked');
      const token = (await svc.request('POST', '/api/accounts/hooked/tokens', {})).body.token as string;
      const set = await svc.request('PUT', '/api/accounts/hooked/webhook', { url: receiver.url, secret: SECRET }, { token });
      expect(set).toMatchObject({ status: 200, body: { setBy: 'account' } });
      // Still refused: an internal address that is not listed.
      expect((await svc.request('PUT', '/api/accounts/hooked/webhook', { url: 'http://169.254.169.254/', secret: SECRET }, { token })).status).toBe(403);
      const webhook = async (): Promise<{ lastError: { message: string; status?: number } | null; failures: number; backlog: number }> =>
        (await svc.request('GET', '/api/accounts/hooked/webhook', undefined, { token })).body;

      for (const [mode, expected] of [
        ['hang', /no answer within 1000 ms/],
        ['redirect', /redirects are not followed/],
        ['fail', /answered 500/],
      ] as const) {
        receiver.mode = mode;
        const before = receiver.requests;
        sandbox.dc.controls.deliverMessage(friend, phone, `while ${mode}`);
        const state = await eventually(async () => {
          const w = await webhook();
          return w.failures >= 2 && receiver.requests >= before + 2 ? w : undefined;
        }, `retries while the receiver ${mode}s`);
        expect(state.lastError?.message).toMatch(expected);
        expect(state.backlog).toBeGreaterThan(0);
      }
      receiver.mode = 'slow'; // answers in 400 ms: slow, within the timeout
      await eventually(async () => (await webhook()).backlog === 0, 'the backlog delivered');
      const texts = receiver.accepted.filter((e) => e.type === 'message.new').map((e) => e.message.text);
      expect(texts).toEqual(['while hang', 'while redirect', 'while fail']);
      expect((await webhook()).lastError).toBeNull();
      expect(receiver.badSignatures).toBe(0);
    } finally {
      await receiver.close();
      expect(await svc.stop()).toBe(0);
    }
  }, 90_000);
});

describe('event streams', () => {
  it('Last-Event-ID: malformed or huge → 400, ahead of the journal → 409; ?after and limit are validated; too many streams → 429', async () => {
    const svc = await sandbox.service({ env: { SSE_MAX_STREAMS: '2' } });
    try {
      const { phone, friend } = await account(svc, 'reader');
      sandbox.dc.controls.deliverMessage(friend, phone, 'one');
      await eventually(async () => (await svc.request('GET', '/api/accounts/reader/events', undefined, { headers: { accept: 'application/json' } })).body.lastId >= 1, 'an event');
      const json = { accept: 'application/json' };
      for (const id of ['abc', '-1', '1.5', '1e3', '9'.repeat(5000), '1,2']) {
        const res = await svc.request('GET', '/api/accounts/reader/events', undefined, { headers: { ...json, 'last-event-id': id } });
        expect(res.status, id.slice(0, 20)).toBe(400);
        expect(res.body.error.code).toBe('INVALID_EVENT_ID');
        const sse = await svc.request('GET', '/api/accounts/reader/events', undefined, { headers: { 'last-event-id': id } });
        expect(sse.status).toBe(400);
      }
      const ahead = await svc.request('GET', '/api/accounts/reader/events', undefined, { headers: { ...json, 'last-event-id': '999999' } });
      expect(ahead).toMatchObject({ status: 409, body: { error: { code: 'EVENT_ID_AHEAD' } } });
      // Too big for the HTTP parser at all: still our JSON error, never a hang.
      const huge = await rawRequest(svc.port, `GET /api/accounts/reader/events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ${'1'.repeat(100_000)}\r\n\r\n`);
      expect(huge).toMatch(/^HTTP\/1\.1 431[\s\S]*HEADERS_TOO_LARGE/);
      for (const query of ['after=abc', 'after=-5', 'limit=100000', 'wait=1000', 'bogus=1']) {
        expect((await svc.request('GET', `/api/accounts/reader/events?${query}`, undefined, { headers: json })).status, query).toBe(400);
      }
      const streams = [sseClient(`${svc.baseUrl}/api/accounts/reader/events`, svc.token), sseClient(`${svc.baseUrl}/api/accounts/reader/events`, svc.token)];
      await eventually(() => streams.every((s) => s.received.length >= 1), 'two streams open');
      const third = await svc.request('GET', '/api/accounts/reader/events');
      expect(third).toMatchObject({ status: 429, body: { error: { code: 'TOO_MANY_STREAMS' } } });
      for (const s of streams) s.close();
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  }, 60_000);

  it('SSE clients that never read are cut off with memory bounded; another account streams on meanwhile; nothing is lost for the slow one', async () => {
    const svc = await sandbox.service({ env: { SSE_SLOW_CLIENT_TIMEOUT: '2s', SSE_MAX_STREAMS: '50' } });
    try {
      const slow = await account(svc, 'slow');
      const busy = await account(svc, 'busy');
      const rssBefore = rssMiB(svc.proc.pid!);
      // Clients that send the request and never read a byte.
      const NEVER_READING = 10;
      const sockets = await Promise.all(
        Array.from({ length: NEVER_READING }, () =>
          rawSocket(svc.port, `GET /api/accounts/slow/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${svc.token}\r\nAccept: text/event-stream\r\n\r\n`),
        ),
      );
      const other = sseClient(`${svc.baseUrl}/api/accounts/busy/events`, svc.token);
      const big = 'x'.repeat(4000);
      // ~10 MB of events for each stream: more than the kernel's socket buffers hold, ~100 MB in all if the service buffered them.
      const MESSAGES = 2500;
      for (let i = 0; i < MESSAGES; i++) {
        sandbox.dc.controls.deliverMessage(slow.friend, slow.phone, `${i} ${big}`);
        if (i % 250 === 0) sandbox.dc.controls.deliverMessage(busy.friend, busy.phone, `busy ${i}`);
      }
      // The other account's stream is not held up.
      await eventually(() => other.received.filter((e) => e.type === 'message.new').length >= MESSAGES / 250, 'the busy account’s events', 30_000);
      await eventually(
        () => svc.logLines().filter((l) => l.msg === LOG_MESSAGES.streamCutOff).length >= NEVER_READING,
        'the never-reading streams cut off',
        60_000,
      );
      const rssAfter = rssMiB(svc.proc.pid!);
      console.log(`RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MiB`);
      expect(rssAfter - rssBefore).toBeLessThan(72); // buffered, it would be 100 MB more
      for (const socket of sockets) socket.destroy();
      // Nothing lost: a reader that comes back gets every event.
      const back = sseClient(`${svc.baseUrl}/api/accounts/slow/events`, svc.token);
      await eventually(() => back.received.filter((e: Event) => e.type === 'message.new').length >= MESSAGES, 'every event for the returning reader', 30_000);
      expect(back.received.filter((e) => e.type === 'message.new').map((e) => Number(String(e.message.text).split(' ')[0]))).toEqual(
        Array.from({ length: MESSAGES }, (_, i) => i),
      );
      back.close();
      other.close();
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  }, 120_000);
});

/** Sends `request` and returns everything the server answered before closing (or 5 s). */
function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
    const done = (): void => resolve(answer);
    socket.on('close', done).on('error', done);
    setTimeout(() => socket.destroy(), 5_000).unref();
  });
}

/** A socket that sent `request` and reads nothing (paused from the start). */
function rawSocket(port: number, request: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.pause();
      socket.write(request);
      resolve(socket);
    });
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}
