/**
 * Issue 4, item 8 — what test/e2e/http.test.ts does not already cover about the API token, the login
 * rate limit and the logger's scrubbing:
 * - every /api route (HEAD and OPTIONS too) refuses tokens of the same length differing in any one
 *   character, in case, or in the first/last character; a token anywhere but `Authorization: Bearer`;
 *   a right token behind a wrong first Authorization header;
 * - the comparison is constant-time: read from the code, the presented token's bytes in a buffer of the
 *   secret's length compared with timingSafeEqual before any length check (no timing measurement), and
 *   nothing else in src/ compares the token;
 * - the login rate limit is on by default, covers all four login steps in one bucket, not logout,
 *   status or /me, and a spoofed X-Forwarded-For does not buy a fresh bucket;
 * - the logger scrubs a configured API hash (and the API token) wherever it appears in a line, in any
 *   letter case; and a production-mode process with a configured hash logs it 0 times.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/index.js';
import { createAuthHook, secretMatcher } from '../../src/http/plugins/auth.js';
import { API_ROUTES } from '../helpers/sandbox-service.js';
import { REPO_ROOT, startService, type ServiceProcess } from '../helpers/service-process.js';
import { recordTotals } from './totals.js';

const counts = { casesTried: 0, httpRequests: 0, http5xx: 0, crashes: 0, secretLeaks: 0 };
afterAll(() => recordTotals('security: token, rate limit, log scrubbing', counts));

/** The single-account /api routes and an unknown one, and HEAD and OPTIONS on one of them. */
const ROUTES_AND_METHODS: typeof API_ROUTES = [...API_ROUTES, ['HEAD', '/api/telegram/status'], ['OPTIONS', '/api/telegram/status']];

async function request(svc: ServiceProcess, method: string, route: string, body?: unknown, opts: Parameters<ServiceProcess['request']>[3] = {}) {
  counts.httpRequests += 1;
  const res = await svc.request(method, route, method === 'GET' || method === 'HEAD' ? undefined : body, opts);
  if (res.status >= 500) counts.http5xx += 1;
  return res;
}

/** A character different from `c` that is still a valid token character. */
function other(c: string): string {
  return c === 'A' ? 'B' : 'A';
}

describe('the API token', () => {
  let svc: ServiceProcess;
  beforeAll(async () => {
    svc = await startService({ env: { LOGIN_RATE_LIMIT: '0' } });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('same-length tokens differing in one character (every position), in case, or first/last: 401 on every route', async () => {
    const token = svc.token;
    const sameLength = Array.from({ length: token.length }, (_, i) => token.slice(0, i) + other(token[i]!) + token.slice(i + 1));
    const flipped = [...token].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
    if (flipped !== token) sameLength.push(flipped);
    // Every position against one route…
    for (const wrong of sameLength) {
      counts.casesTried += 1;
      const res = await request(svc, 'GET', '/api/telegram/status', undefined, { token: wrong });
      expect(res.status, `token differing from the right one: ${wrong === flipped ? 'case' : `position ${sameLength.indexOf(wrong)}`}`).toBe(401);
      expect(res.body).toEqual({ error: { code: 'UNAUTHORIZED', message: 'Invalid API token' } });
    }
    // …and the first and last positions against every route and method.
    for (const [method, route, body] of ROUTES_AND_METHODS) {
      for (const wrong of [sameLength[0]!, sameLength[token.length - 1]!]) {
        counts.casesTried += 1;
        const res = await request(svc, method, route, body, { token: wrong });
        expect(res.status, `${method} ${route}`).toBe(401);
      }
      counts.casesTried += 1;
      expect((await request(svc, method, route, body, { token: null })).status, `${method} ${route} without a token`).toBe(401);
    }
  });

  it('the token anywhere but "Authorization: Bearer" is refused; so is a right token behind a wrong first header', async () => {
    const token = svc.token;
    const cases: Array<[string, string, Record<string, string | string[]>]> = [
      ['query string', `/api/telegram/status?token=${token}`, {}],
      ['query access_token', `/api/telegram/status?access_token=${token}`, {}],
      ['X-API-Token header', '/api/telegram/status', { 'x-api-token': token }],
      ['cookie', '/api/telegram/status', { cookie: `token=${token}` }],
      ['Basic scheme', '/api/telegram/status', { authorization: `Basic ${token}` }],
      ['no scheme', '/api/telegram/status', { authorization: token }],
      ['token twice', '/api/telegram/status', { authorization: `Bearer ${token} ${token}` }],
      ['token + junk', '/api/telegram/status', { authorization: `Bearer ${token}x` }],
      ['prefix of the token', '/api/telegram/status', { authorization: `Bearer ${token.slice(0, -1)}` }],
      ['empty bearer', '/api/telegram/status', { authorization: 'Bearer ' }],
      ['Proxy-Authorization', '/api/telegram/status', { 'proxy-authorization': `Bearer ${token}` }],
    ];
    for (const [name, route, headers] of cases) {
      counts.casesTried += 1;
      const res = await request(svc, 'GET', route, undefined, { token: null, headers: headers as Record<string, string> });
      expect(res.status, name).toBe(401);
      expect(res.body.error.code, name).toBe('UNAUTHORIZED');
    }
    // Two Authorization headers: Node keeps the first; a wrong first one is not rescued by a right second one.
    counts.casesTried += 1;
    const twoHeaders = await rawGet(svc.port, '/api/telegram/status', [`Authorization: Bearer ${other(token[0]!)}${token.slice(1)}`, `Authorization: Bearer ${token}`]);
    expect(twoHeaders.status).toBe(401);
  });

  it('is compared in constant time: timingSafeEqual over a buffer of the secret\'s length, on the whole /api scope, nowhere else', () => {
    counts.casesTried += 1;
    const source = fs.readFileSync(path.join(REPO_ROOT, 'src/http/plugins/auth.ts'), 'utf8');
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    expect(code).toMatch(/import \{[^}]*\btimingSafeEqual\b[^}]*\} from 'node:crypto'/);
    // The candidate's UTF-8 bytes in a zeroed buffer as long as the secret, compared whole; the length only after.
    expect(code).toMatch(/const scratch = Buffer\.alloc\(expected\.length\);/);
    expect(code).toMatch(/scratch\.fill\(0\);\s*scratch\.write\(candidate, 'utf8'\);\s*const sameBytes = timingSafeEqual\(scratch, expected\);\s*return sameBytes && Buffer\.byteLength\(candidate, 'utf8'\) === expected\.length;/);
    // The presented token through that matcher, and no other comparison of it.
    expect(code).toMatch(/const token = match\[1\]!;/);
    expect(code).toMatch(/const isAdminToken = secretMatcher\(adminToken\);/);
    expect(code).toMatch(/if \(isAdminToken\(token\)\) return accept\(request, ADMIN, done\);/);
    // (Lengths may be compared: `expected.length`.)
    expect(code).not.toMatch(/(===|!==|==|!=)\s*(expected|adminToken|token|candidate|match\[1\])\b(?!\.length)|\b(expected|adminToken|token|candidate|match\[1\]!?)\s*(===|!==|==|!=)/);
    expect(code).not.toMatch(/\.(startsWith|endsWith|includes|localeCompare|indexOf)\(/);

    const app = fs.readFileSync(path.join(REPO_ROOT, 'src/http/app.ts'), 'utf8');
    expect(app).toMatch(/const authenticate = createAuthHook\(\{ adminToken: config\.apiToken, [^\n]*\);\s*api\.addHook\('onRequest', authenticate\);/);
    expect(app).toMatch(/api\.setNotFoundHandler\(\{ preHandler: authenticate \}/);

    // Nothing else in src/ looks at the token's value.
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (full.endsWith('.ts') && /apiToken\s*(===|!==|==|!=)|(===|!==|==|!=)\s*\w*\.?apiToken\b/.test(fs.readFileSync(full, 'utf8'))) {
          offenders.push(path.relative(REPO_ROOT, full));
        }
      }
    };
    walk(path.join(REPO_ROOT, 'src'));
    expect(offenders).toEqual([]);
  });

  it('the hook itself: equal-length digests whatever the presented length (no RangeError), right token accepted', async () => {
    const token = 'a-token-of-some-length-1234567890';
    const hook = createAuthHook({ adminToken: token });
    // Callback-style (Fastify's onRequest signature): settled through `done`.
    const run = (authorization: string | undefined) =>
      new Promise<void>((resolve, reject) => {
        const request = { headers: authorization === undefined ? {} : { authorization } } as Parameters<typeof hook>[0];
        void hook.call({} as ThisParameterType<typeof hook>, request, {} as Parameters<typeof hook>[1], (err?: Error) => (err ? reject(err) : resolve()));
      });
    await expect(run(`Bearer ${token}`)).resolves.toBeUndefined();
    await expect(run(`bearer \t${token} `)).resolves.toBeUndefined();
    for (const presented of ['x', token.slice(0, -1), token + 'x', 'y'.repeat(10_000), '\u00ff'.repeat(50), '😀']) {
      counts.casesTried += 1;
      await expect(run(`Bearer ${presented}`)).rejects.toMatchObject({ name: 'HttpError', statusCode: 401, code: 'UNAUTHORIZED' });
    }
    await expect(run(undefined)).rejects.toMatchObject({ statusCode: 401 });
    expect(() => createAuthHook({ adminToken: '' })).toThrow();
  });

  it('secretMatcher: only the very secret matches — not a prefix, an extension, a same-length neighbour or a multibyte look-alike', () => {
    for (const secret of ['a-token-of-some-length-1234567890', 'é-ünïcödé-tøkén-😀-0123456789']) {
      const matches = secretMatcher(secret);
      expect(matches(secret)).toBe(true);
      expect(matches(secret)).toBe(true); // the reused buffer holds nothing over from the call before
      const bytes = Buffer.from(secret, 'utf8');
      const lookAlikes = [
        '',
        secret.slice(0, -1),
        secret + 'x',
        secret + '\0',
        'x' + secret.slice(1),
        secret.slice(0, -1) + 'x',
        secret.toUpperCase(),
        // As many UTF-8 bytes, the first ones the same: the buffer is full and its bytes match but for the last.
        bytes.subarray(0, bytes.length - 1).toString('latin1') + 'x',
        'y'.repeat(10_000),
        '\u00ff'.repeat(bytes.length),
      ];
      for (const candidate of lookAlikes) {
        counts.casesTried += 1;
        expect(matches(candidate), JSON.stringify(candidate)).toBe(false);
      }
      // A longer candidate whose first bytes are the whole secret fills the buffer with exactly the secret.
      expect(matches(secret + secret)).toBe(false);
      expect(matches(secret)).toBe(true);
    }
  });
});

/** A GET with exactly these header lines (Node's client would merge or refuse some of them). */
async function rawGet(port: number, route: string, headerLines: string[]): Promise<{ status: number; body: string }> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.end(`GET ${route} HTTP/1.1\r\nHost: x\r\n${headerLines.join('\r\n')}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), body: data.split('\r\n\r\n')[1] ?? '' }));
  });
}

describe('the login rate limit', () => {
  it('is on by default: the 11th login step within a minute is 429 RATE_LIMITED with Retry-After', async () => {
    counts.casesTried += 1;
    const svc = await startService(); // no LOGIN_RATE_LIMIT: the default, 10/1m
    try {
      for (let i = 0; i < 10; i++) expect((await request(svc, 'POST', '/api/telegram/auth/send-code', { phone: 'bad' })).status).toBe(400);
      const limited = await request(svc, 'POST', '/api/telegram/auth/send-code', { phone: 'bad' });
      expect(limited.status).toBe(429);
      expect(limited.body).toEqual({ error: { code: 'RATE_LIMITED', message: expect.stringMatching(/^Too many login requests, retry in /) } });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await svc.stop();
    }
  });

  it('one bucket for all four login steps; logout, status and /me are not limited; X-Forwarded-For buys nothing', async () => {
    const svc = await startService({ env: { LOGIN_RATE_LIMIT: '4/1m' } });
    try {
      const steps: Array<[string, unknown?]> = [
        ['/api/telegram/auth/send-code', { phone: 'bad' }],
        ['/api/telegram/auth/resend-code'],
        ['/api/telegram/auth/verify-code', { code: '12345' }],
        ['/api/telegram/auth/verify-password', { password: 'nope' }],
      ];
      // One request per step uses the bucket up (each refused for its own reason, 4xx).
      for (const [route, body] of steps) {
        const res = await request(svc, 'POST', route, body);
        expect(res.status, route).toBeGreaterThanOrEqual(400);
        expect(res.status, route).not.toBe(429);
      }
      // Now every login step is limited, with or without a forged client address.
      for (const [route, body] of steps) {
        for (const headers of [{}, { 'x-forwarded-for': '203.0.113.7' }, { 'x-real-ip': '198.51.100.2' }, { forwarded: 'for=192.0.2.1' }] as Record<string, string>[]) {
          counts.casesTried += 1;
          const res = await request(svc, 'POST', route, body, { headers });
          expect(res.status, `${route} ${JSON.stringify(headers)}`).toBe(429);
          expect(res.body.error.code).toBe('RATE_LIMITED');
          expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        }
      }
      // The rest of the API answers as usual.
      for (const [method, route] of [
        ['GET', '/api/telegram/status'],
        ['GET', '/api/telegram/me'],
        ['POST', '/api/telegram/auth/logout'],
      ] as const) {
        counts.casesTried += 1;
        const res = await request(svc, method, route);
        expect(res.status, route).not.toBe(429);
        expect(res.status, route).toBeLessThan(500);
      }
      expect((await request(svc, 'GET', '/api/telegram/status')).body.state).toBe('logged_out');
    } finally {
      await svc.stop();
    }
  });
});

describe("the logger's scrubbing of the API hash and token", () => {
  const API_HASH = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
  const API_TOKEN = 'Qz8-scrub-me-token-0123456789abcdefXYZ';
  const temps: string[] = [];
  afterAll(() => {
    for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('removes a configured API hash and the token from every part of every line, in any letter case', () => {
    counts.casesTried += 1;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scrub-test-'));
    temps.push(dir);
    const logFile = path.join(dir, 'service.log');
    const log = createLogger(
      { logLevel: 'trace', logFile, apiToken: API_TOKEN, telegram: { apiHash: API_HASH } },
      { stdout: 'none' },
    );
    for (const secret of [API_HASH, API_HASH.toUpperCase(), API_TOKEN]) {
      log.info(`message with ${secret} inside`);
      log.info({ note: secret, nested: { deeper: [{ value: `x${secret}y` }] } }, 'fields');
      log.info({ apiHash: secret, api_hash: secret, token: secret }, 'named fields');
      log.error({ err: new Error(`failed with ${secret}`) }, 'an error');
      log.child({ binding: secret }).warn('child binding');
      log.child({ component: 'x' }).child({ deep: { v: secret } }).debug({ more: secret }, `grandchild ${secret}`);
      log.info({ headers: { authorization: `Bearer ${secret}` } }, 'headers');
      log.info({ url: `/api/x?api_hash=${secret}` }, 'in a URL');
    }
    log.flush?.();
    const text = fs.readFileSync(logFile, 'utf8');
    expect(text.split('\n').filter(Boolean).length).toBe(3 * 8);
    for (const secret of [API_HASH, API_TOKEN]) {
      const found = text.toLowerCase().split(secret.toLowerCase()).length - 1;
      counts.secretLeaks += found;
      expect(found, `${secret === API_HASH ? 'API hash' : 'API token'} occurrences`).toBe(0);
    }
  });

  it('a production-mode process with a configured API hash logs it 0 times (no Telegram is contacted)', async () => {
    counts.casesTried += 1;
    const apiHash = 'c0ffee00c0ffee00c0ffee00c0ffee11';
    // No session: start-up opens no connection, so nothing leaves 127.0.0.1.
    const svc = await startService({ env: { TELEGRAM_API_ID: '123456', TELEGRAM_API_HASH: apiHash, LOG_LEVEL: 'trace', SANDBOX_DC_PORT: undefined } });
    try {
      const status = await request(svc, 'GET', '/api/telegram/status');
      expect(status.body).toMatchObject({ environment: 'production', state: 'logged_out' });
      expect(await svc.stop()).toBe(0);
      const everything = (fs.readFileSync(svc.logFile, 'utf8') + svc.output().stdout + svc.output().stderr + JSON.stringify(status)).toLowerCase();
      const found = everything.split(apiHash).length - 1;
      counts.secretLeaks += found;
      expect(found).toBe(0);
    } finally {
      await svc.stop();
    }
  });
});
