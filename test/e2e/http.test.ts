/**
 * The HTTP surface of the real service process (sandbox mode, in-process sandbox DC): token auth on every
 * /api route, the JSON error shape for every failure, limits, the login rate limit, start-up banner and
 * log lines, file modes, shutdown, a second instance, bad configuration.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../helpers/sandbox-service.js';
import { startService, type ServiceProcess } from '../helpers/service-process.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

function expectErrorShape(body: unknown, code: string): void {
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
  expect((body as { error: { message: string } }).error.message.length).toBeGreaterThan(0);
}

describe('HTTP API of the real process', () => {
  let svc: ServiceProcess;

  beforeAll(async () => {
    // The login rate limit has its own test below; here it would turn every later case into a 429.
    svc = await startService({ env: { LOG_LEVEL: 'debug', LOGIN_RATE_LIMIT: '0' } });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('GET /healthz needs no token', async () => {
    const res = await svc.request('GET', '/healthz', undefined, { token: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('every /api route refuses a missing token with 401 UNAUTHORIZED', async () => {
    for (const [method, route, body] of API_ROUTES) {
      const res = await svc.request(method, route, body, { token: null });
      expect(res.status, `${method} ${route}`).toBe(401);
      expectErrorShape(res.body, 'UNAUTHORIZED');
    }
  });

  it('every /api route refuses a wrong token (any length, any scheme) with 401', async () => {
    const wrong = [svc.token.slice(0, -1) + (svc.token.endsWith('A') ? 'B' : 'A'), 'x', svc.token + 'x', 'a'.repeat(2000)];
    for (const [method, route, body] of API_ROUTES) {
      for (const token of wrong) {
        const res = await svc.request(method, route, body, { token });
        expect(res.status, `${method} ${route}`).toBe(401);
        expectErrorShape(res.body, 'UNAUTHORIZED');
      }
      const basic = await svc.request(method, route, body, { token: null, headers: { authorization: `Basic ${svc.token}` } });
      expect(basic.status).toBe(401);
    }
  });

  it('accepts the right token, with the scheme in any case', async () => {
    const res = await svc.request('GET', '/api/telegram/status', undefined, {
      token: null,
      headers: { authorization: `bearer ${svc.token}` },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: 'logged_out', authenticated: false, environment: 'sandbox' });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('unknown routes are 404 NOT_FOUND in the JSON shape', async () => {
    for (const [method, route] of [
      ['POST', '/'],
      ['GET', '/nope'],
      ['GET', '/console/nope.js'],
      ['DELETE', '/api/telegram/status'],
      ['GET', '/api/does-not-exist'],
    ] as const) {
      const res = await svc.request(method, route);
      expect(res.status, route).toBe(404);
      expectErrorShape(res.body, 'NOT_FOUND');
    }
  });

  it('bad JSON → 400 INVALID_JSON; empty JSON body → 400 INVALID_JSON', async () => {
    for (const rawBody of ['{"phone":', '{phone: 1}', 'null x', '']) {
      const res = await svc.request('POST', '/api/telegram/auth/send-code', undefined, { rawBody });
      expect(res.status, rawBody).toBe(400);
      expectErrorShape(res.body, 'INVALID_JSON');
    }
  });

  it('schema violations → 400 VALIDATION_FAILED with a readable message', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['/api/telegram/auth/send-code', {}, 'body.phone is required'],
      ['/api/telegram/auth/send-code', { phone: 15551231111 }, 'body.phone must be a string'],
      ['/api/telegram/auth/send-code', [], 'body must be an object'],
      ['/api/telegram/auth/verify-code', { code: '' }, 'body.code must not be empty'],
      ['/api/telegram/auth/verify-password', { password: null }, 'body.password must be a string'],
      ['/api/telegram/auth/verify-password', { password: 'x'.repeat(1025) }, 'body.password must be at most 1024 characters long'],
    ];
    for (const [route, body, message] of cases) {
      const res = await svc.request('POST', route, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toEqual({ error: { code: 'VALIDATION_FAILED', message } });
    }
  });

  it('a malformed phone number → 400 PHONE_NUMBER_INVALID', async () => {
    for (const phone of ['abc', '+1', '+1234567890123456', '++15551231111']) {
      const res = await svc.request('POST', '/api/telegram/auth/send-code', { phone });
      expect(res.status, phone).toBe(400);
      expectErrorShape(res.body, 'PHONE_NUMBER_INVALID');
    }
  });

  it('a body over the limit → 413 BODY_TOO_LARGE', async () => {
    const res = await svc.request('POST', '/api/telegram/auth/send-code', { phone: '1'.repeat(20_000) });
    expect(res.status).toBe(413);
    expectErrorShape(res.body, 'BODY_TOO_LARGE');
  });

  it('another content type → 415 or 400, never 5xx', async () => {
    const form = await svc.request('POST', '/api/telegram/auth/send-code', undefined, {
      rawBody: 'phone=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    expectErrorShape(form.body, 'UNSUPPORTED_MEDIA_TYPE');
    const text = await svc.request('POST', '/api/telegram/auth/send-code', undefined, {
      rawBody: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(400);
  });

  it('hostile input gets 4xx in the JSON shape, never 5xx', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const bodies = [
      '{"__proto__":{"polluted":true},"phone":"+15551231111"}',
      '{"constructor":{"prototype":{"x":1}},"code":"1"}',
      deep,
      '"just a string"',
      '12345',
      'true',
      '{"phone":"\u0000\u202e\ud83d\ude00"}',
      '{"code":{"$gt":""}}',
      '\u00ff\u00fe',
    ];
    const routes = ['/api/telegram/auth/send-code', '/api/telegram/auth/verify-code', '/api/telegram/auth/verify-password'];
    for (const route of routes) {
      for (const rawBody of bodies) {
        const res = await svc.request('POST', route, undefined, { rawBody });
        expect(res.status, `${route} ${rawBody.slice(0, 40)}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${route} ${rawBody.slice(0, 40)}`).toBeLessThan(500);
        expect(res.body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
      }
    }
    const status = await svc.request('GET', '/api/telegram/status');
    expect(status.status).toBe(200);
    expect(status.body.state).toBe('logged_out');
  });

  it('a malformed URL → 400 in the JSON shape', async () => {
    const res = await svc.request('GET', '/api/%zz');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
  });

  it('files: data dir 0700, api_token and log file 0600; the log says where the token is, never the token', async () => {
    expect(fs.statSync(svc.dataDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(svc.dataDir, 'api_token')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(svc.logFile).mode & 0o777).toBe(0o600);
    const tokenLine = await svc.waitForLog(LOG_MESSAGES.apiTokenGenerated(path.join(svc.dataDir, 'api_token')));
    expect(tokenLine.file).toBe(path.join(svc.dataDir, 'api_token'));
    expect(fs.readFileSync(svc.logFile, 'utf8')).not.toContain(svc.token);
    expect(svc.output().stdout).not.toContain(svc.token);
  });

  it('logs the sandbox banner, the listening line and requests at debug level without bodies', async () => {
    const banner = await svc.waitForLog('SANDBOX MODE: no TELEGRAM_API_ID/TELEGRAM_API_HASH set');
    expect(banner.msg).toMatch(/talking to the built-in sandbox DC at 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+, not to Telegram\. Test login: \+9996621234, code 22222\.$/);
    expect(banner.level).toBe(40);
    const listening = await svc.waitForLog(LOG_MESSAGES.listening);
    expect(listening).toMatchObject({ host: '127.0.0.1', port: svc.port, url: svc.baseUrl });
    await svc.request('POST', '/api/telegram/auth/verify-password', { password: 'do-not-log-me' });
    const requestLine = await svc.waitForLog((l) => l.msg === LOG_MESSAGES.httpRequest && l.route === '/api/telegram/auth/verify-password');
    expect(requestLine).toMatchObject({ method: 'POST', statusCode: expect.any(Number), reqId: expect.any(String) });
    // Every line a request writes carries its request id (request.log is made on first use).
    const rejected = await svc.waitForLog((l) => l.msg === 'Request rejected' && l.reqId === requestLine.reqId);
    expect(rejected).toMatchObject({ status: expect.any(Number), code: expect.any(String) });
    expect(fs.readFileSync(svc.logFile, 'utf8')).not.toContain('do-not-log-me');
  });
});

describe('login rate limit', () => {
  it('answers 429 RATE_LIMITED with Retry-After once the limit is used up, per IP, on the login routes only', async () => {
    const svc = await startService({ env: { LOGIN_RATE_LIMIT: '3/1m' } });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await svc.request('POST', '/api/telegram/auth/send-code', { phone: 'bad' });
        expect(res.status).toBe(400);
      }
      const limited = await svc.request('POST', '/api/telegram/auth/verify-code', { code: '12345' });
      expect(limited.status).toBe(429);
      expectErrorShape(limited.body, 'RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // Status and logout are not login attempts.
      expect((await svc.request('GET', '/api/telegram/status')).status).toBe(200);
      // Unauthenticated requests are refused before they count.
      expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone: 'x' }, { token: null })).status).toBe(401);
    } finally {
      await svc.stop();
    }
  });
});

describe('process life', () => {
  it('SIGTERM: exit 0 with the stop logged; SIGINT too; the lock is released for the next start', async () => {
    const first = await startService();
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(first.logLines().map((l) => l.msg)).toEqual(expect.arrayContaining([LOG_MESSAGES.stopping, LOG_MESSAGES.stopped]));

    const second = await startService({ dataDir: first.dataDir });
    expect(second.token).toBe(first.token); // read back from DATA_DIR/api_token
    await second.waitForLog(LOG_MESSAGES.apiTokenRead(path.join(first.dataDir, 'api_token')));
    expect(await second.stop('SIGINT')).toBe(0);
  });

  it('a second instance on the same DATA_DIR exits 1 at once, naming the holder', async () => {
    const first = await startService();
    try {
      const second = await startService({ dataDir: first.dataDir, noWait: true });
      const { code } = await second.exited;
      expect(code).toBe(1);
      expect(second.output().stderr).toContain(String(first.proc.pid));
      expect(second.output().stderr).toMatch(/in use by process \d+/);
      // The first one is unaffected.
      expect((await first.request('GET', '/api/telegram/status')).status).toBe(200);
    } finally {
      await first.stop();
    }
  });

  it('an invalid configuration exits 2 listing every problem', async () => {
    const svc = await startService({ env: { PORT: 'eighty', LOG_LEVEL: 'chatty', TELEGRAM_API_ID: '42', SANDBOX_DC_PORT: undefined }, noWait: true });
    expect((await svc.exited).code).toBe(2);
    const { stderr } = svc.output();
    expect(stderr).toContain('Invalid configuration:');
    expect(stderr).toContain('  - PORT="eighty" must be a whole number');
    expect(stderr).toContain('  - LOG_LEVEL="chatty" must be one of');
    expect(stderr).toContain('  - TELEGRAM_API_HASH is missing');
  });
});
