/**
 * Issue 7 weaknesses of the HTTP surface, through the real service process and raw sockets (or the real
 * curl): an answer given before a request's body was read closes the connection instead of draining the
 * body; a request that is too slow is answered 408; and the README's curl helper, which sends a JSON
 * content type on every call, works as written for the POSTs that take no body.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startService, TEST_ENV, type ServiceProcess } from '../helpers/service-process.js';
import { dcAndTempRoot } from './harness/shared-dc.js';
import { recordTotals } from './totals.js';

const AREA = 'http (edges)';
const counts = { casesTried: 0, httpRequests: 0, http5xx: 0, crashes: 0 };
const REQUEST_TIMEOUT_MS = 2_000;

// The DC lives in the test process (on ports the kernel picks): the service's sandbox is not under test here.
const shared = dcAndTempRoot('http-edges-', () => recordTotals(AREA, counts));
let svc: ServiceProcess;
beforeAll(async () => {
  svc = await startService({ dc: shared.dc, env: { ...TEST_ENV, HTTP_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms` } });
});
afterAll(async () => {
  if (!svc) return;
  if (svc.proc.exitCode !== null) counts.crashes++;
  await svc.stop();
});

/** A raw, connected connection (one case, one request) that records what the server sent and when it closed. */
async function rawConnection(port: number): Promise<{ socket: net.Socket; received: () => string; closedAt: Promise<number> }> {
  counts.casesTried++;
  counts.httpRequests++;
  const socket = net.connect({ port, host: '127.0.0.1' });
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => undefined);
  const closedAt = new Promise<number>((resolve) => {
    socket.once('end', () => resolve(Date.now()));
    socket.once('close', () => resolve(Date.now()));
  });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, received: () => text, closedAt };
}

const statusLineOf = (text: string) => text.split('\r\n')[0];
const bodyOf = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };

describe('an answer before the body was read', () => {
  it('a 401 to a request announcing a huge body closes the connection at once, while the sender keeps sending', async () => {
    const conn = await rawConnection(svc.port);
    conn.socket.write('POST /api/telegram/auth/send-code HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n');
    // A sender that ignores the answer: 64 KiB every 20 ms for as long as the connection lasts.
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const sending = setInterval(() => {
      if (!conn.socket.destroyed && conn.socket.writable) conn.socket.write(chunk);
    }, 20);
    const started = Date.now();
    try {
      const closed = await Promise.race([conn.closedAt, new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), 10_000))]);
      expect(statusLineOf(conn.received())).toBe('HTTP/1.1 401 Unauthorized');
      expect(bodyOf(conn.received()).error.code).toBe('UNAUTHORIZED');
      expect(closed, 'the server must close the connection instead of draining the body').not.toBe('open');
      expect((closed as number) - started).toBeLessThan(5_000);
    } finally {
      clearInterval(sending);
      conn.socket.destroy();
    }
  });
});

describe('a request that is too slow', () => {
  it('headers that never finish → 408 REQUEST_TIMEOUT in the JSON shape, then closed', async () => {
    const conn = await rawConnection(svc.port);
    conn.socket.write('GET /api/telegram/status HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await conn.closedAt;
    expect(statusLineOf(conn.received())).toBe('HTTP/1.1 408 Request Timeout');
    expect(bodyOf(conn.received())).toEqual({ error: { code: 'REQUEST_TIMEOUT', message: expect.any(String) } });
  });

  it('a body that stops halfway → 408 REQUEST_TIMEOUT', async () => {
    const conn = await rawConnection(svc.port);
    conn.socket.write(
      `POST /api/telegram/auth/send-code HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${svc.token}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{"phone":',
    );
    await conn.closedAt;
    expect(statusLineOf(conn.received())).toBe('HTTP/1.1 408 Request Timeout');
    expect(bodyOf(conn.received()).error.code).toBe('REQUEST_TIMEOUT');
  });
});

describe("the README's curl helper, as written", () => {
  it('sends a JSON content type on every call: the POSTs without a body (resend-code, logout) work', async () => {
    counts.casesTried++;
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const helper = readme.split('\n').find((line) => line.startsWith('api() {'));
    expect(helper, 'the README defines the api() helper').toBeDefined();
    expect(helper).toContain("-H 'content-type: application/json'");
    const base = `127.0.0.1:${svc.port}/api/telegram`;
    const script = [
      `TOKEN=$(cat ${JSON.stringify(path.join(svc.dataDir, 'api_token'))})`,
      helper,
      `api -X POST ${base}/auth/send-code -d '{"phone":"+9996621234"}'`,
      `api -X POST ${base}/auth/resend-code`,
      `api -X POST ${base}/auth/verify-code -d '{"code":"22222"}'`,
      `api -X POST ${base}/auth/logout`,
    ].join('\n');
    // Asynchronously: the sandbox DC runs in this process and must keep answering while curl waits.
    const { stdout } = await promisify(execFile)('bash', ['-c', script], { encoding: 'utf8' });
    const answers = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    counts.httpRequests += 4;
    expect(answers).toEqual([
      expect.objectContaining({ state: 'code_sent' }),
      expect.objectContaining({ state: 'code_sent' }),
      expect.objectContaining({ state: 'authenticated' }),
      { state: 'logged_out' },
    ]);
  });

  it('routes that take a body still refuse an empty one with INVALID_JSON', async () => {
    counts.casesTried++;
    for (const route of ['/api/telegram/auth/send-code', '/api/telegram/auth/verify-code', '/api/telegram/auth/verify-password']) {
      const res = await svc.request('POST', route, undefined, { rawBody: '' });
      counts.httpRequests++;
      expect(res.status, route).toBe(400);
      expect(res.body.error.code, route).toBe('INVALID_JSON');
    }
  });
});

describe('what every answer carries', () => {
  it('cache-control: no-store and x-content-type-options: nosniff on answers, errors and framework errors alike', async () => {
    const auth = { authorization: `Bearer ${svc.token}` };
    const cases: Array<[string, string, RequestInit, number]> = [
      ['status', '/api/telegram/status', { headers: auth }, 200],
      ['no token', '/api/telegram/status', {}, 401],
      ['unknown /api route', '/api/nope', { headers: auth }, 404],
      ['unknown route', '/nope', {}, 404],
      ['invalid JSON', '/api/telegram/auth/send-code', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{' }, 400],
      ['healthz', '/healthz', {}, 200],
      ['metrics', '/metrics', { headers: auth }, 200],
      ['OpenAPI document', '/openapi.json', {}, 200],
      ['docs', '/docs/static/index.html', {}, 200],
      ['console', '/', {}, 200],
    ];
    for (const [what, route, init, status] of cases) {
      counts.casesTried++;
      counts.httpRequests++;
      const res = await fetch(`http://127.0.0.1:${svc.port}${route}`, init);
      await res.arrayBuffer();
      expect([what, res.status, res.headers.get('cache-control'), res.headers.get('x-content-type-options')]).toEqual([what, status, 'no-store', 'nosniff']);
    }
    // A URL Fastify cannot decode: its own framework error, answered in our shape.
    const conn = await rawConnection(svc.port);
    conn.socket.write('GET /api/telegram/%E0%A4%A HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await conn.closedAt;
    const head = conn.received().split('\r\n\r\n')[0]!.toLowerCase();
    expect(statusLineOf(conn.received())).toBe('HTTP/1.1 400 Bad Request');
    expect(head).toContain('\r\ncache-control: no-store');
    expect(head).toContain('\r\nx-content-type-options: nosniff');
  });
});
