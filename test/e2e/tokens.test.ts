/**
 * Tokens scoped to one account, through the real process: issued by the admin (shown once, only a hash
 * stored), reaching exactly their account on every route and method, 404 for every other account (its
 * existence not revealed), 403 on the admin routes, revoked at once, kept across restarts, and gone with
 * their account.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { accountFile } from '../helpers/layout.js';
import { uniquePhone } from '../helpers/sandbox-service.js';
import { sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';

const sandbox = sandboxPerFile();

/** Every route of one account, with a body where it takes one. */
const ACCOUNT_ROUTES: Array<[method: string, route: string, body?: unknown]> = [
  ['GET', ''],
  ['GET', '/status'],
  ['DELETE', ''],
  ['GET', '/me'],
  ['POST', '/auth/send-code', { phone: '+15550009999' }],
  ['POST', '/auth/resend-code'],
  ['POST', '/auth/verify-code', { code: '12345' }],
  ['POST', '/auth/verify-password', { password: 'x' }],
  ['POST', '/auth/logout'],
  ['POST', '/tokens', {}],
  ['GET', '/tokens'],
  ['DELETE', '/tokens/0123456789abcdef'],
  // Methods a route does not have: still nothing revealed.
  ['PUT', '/status'],
  ['PATCH', ''],
];

async function issue(svc: ServiceProcess, id: string, label?: string): Promise<{ id: string; token: string }> {
  const res = await svc.request('POST', `/api/accounts/${id}/tokens`, label ? { label } : undefined);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.token).toMatch(/^tgs_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  return res.body;
}

describe('scoped tokens (real process)', () => {
  it('reach their own account only: 404 for any other account on every route and method, 403 on the admin routes', async () => {
    const dc = sandbox.dc;
    const svc = await sandbox.service();
    for (const id of ['alice', 'bob', 'default']) expect((await svc.request('POST', '/api/accounts', { id })).status).toBe(201);
    const phone = uniquePhone();
    dc.controls.createUser({ phone });
    const { token } = await issue(svc, 'alice', 'alice app');
    const as = (method: string, route: string, body?: unknown) => svc.request(method, route, body, { token });

    // Its own account: logs in and uses it.
    const sent = await as('POST', '/api/accounts/alice/auth/send-code', { phone });
    expect(sent.status).toBe(200);
    expect((await as('POST', '/api/accounts/alice/auth/verify-code', { code: dc.controls.lastCode(phone) })).body.state).toBe('authenticated');
    expect((await as('GET', '/api/accounts/alice/me')).body.phone).toBe(phone);
    expect((await as('GET', '/api/accounts/alice/status')).body).toMatchObject({ id: 'alice', state: 'authenticated' });

    // Any other account — existing or not, and the single-account routes (the account `default`): 404.
    for (const other of ['bob', 'nobody']) {
      for (const [method, route, body] of ACCOUNT_ROUTES) {
        const res = await as(method, `/api/accounts/${other}${route}`, body);
        expect(res.status, `${method} /api/accounts/${other}${route}`).toBe(404);
        expect(['ACCOUNT_NOT_FOUND', 'NOT_FOUND']).toContain(res.body.error.code);
      }
    }
    // Existing and missing accounts answer byte for byte the same.
    const [bobAnswer, nobodyAnswer] = [await as('GET', '/api/accounts/bob'), await as('GET', '/api/accounts/nobody')];
    expect(bobAnswer.body).toEqual(nobodyAnswer.body);
    for (const route of ['/status', '/me', '/auth/logout']) {
      const res = await as(route === '/auth/logout' ? 'POST' : 'GET', `/api/telegram${route}`);
      expect(res.status, route).toBe(404);
    }
    // Admin routes: 403 (listing, creating, deleting — its own account too — and token management).
    for (const [method, route, body] of [
      ['GET', '/api/accounts'],
      ['POST', '/api/accounts', { id: 'mallory' }],
      ['DELETE', '/api/accounts/alice'],
      ['POST', '/api/accounts/alice/tokens', {}],
      ['GET', '/api/accounts/alice/tokens'],
    ] as const) {
      const res = await as(method, route, body);
      expect(res.status, `${method} ${route}`).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
    // Nothing happened to bob, and alice is still logged in.
    expect((await svc.request('GET', '/api/accounts/bob')).body.state).toBe('logged_out');
    expect((await svc.request('GET', '/api/accounts')).body.accounts.map((a: { id: string }) => a.id)).toEqual(['alice', 'bob', 'default']);
  });

  it('shown once, stored as a hash, listed without secrets, revoked at once, kept across a restart, gone with the account', async () => {
    const svc = await sandbox.service();
    await svc.request('POST', '/api/accounts', { id: 'tina' });
    const first = await issue(svc, 'tina', 'ci');
    const second = await issue(svc, 'tina');
    const stored = fs.readFileSync(accountFile(svc.dataDir, 'tokens.json', 'tina'), 'utf8');
    expect(stored).not.toContain(first.token.slice(21)); // the secret part
    expect(stored).not.toContain(second.token.slice(21));
    expect(fs.statSync(accountFile(svc.dataDir, 'tokens.json', 'tina')).mode & 0o777).toBe(0o600);
    const listed = await svc.request('GET', '/api/accounts/tina/tokens');
    expect(listed.body.tokens).toEqual([
      { id: first.id, createdAt: expect.any(String), label: 'ci' },
      { id: second.id, createdAt: expect.any(String), label: null },
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(first.token);
    const useFirst = () => svc.request('GET', '/api/accounts/tina/status', undefined, { token: first.token });
    expect((await useFirst()).status).toBe(200);

    // A token of the right shape and id but a wrong secret: 401.
    const forged = first.token.slice(0, -4) + (first.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect((await svc.request('GET', '/api/accounts/tina/status', undefined, { token: forged })).status).toBe(401);

    expect((await svc.request('DELETE', `/api/accounts/tina/tokens/${first.id}`)).status).toBe(204);
    expect((await useFirst()).status).toBe(401);
    expect((await svc.request('DELETE', `/api/accounts/tina/tokens/${first.id}`)).status).toBe(404);

    // Across a restart: the revoked one stays revoked, the other still works.
    expect(await svc.stop()).toBe(0);
    const again = await sandbox.service({ dataDir: svc.dataDir });
    expect((await again.request('GET', '/api/accounts/tina/status', undefined, { token: second.token })).status).toBe(200);
    expect((await again.request('GET', '/api/accounts/tina/status', undefined, { token: first.token })).status).toBe(401);

    // Deleting the account revokes its tokens; a new account of the same id does not inherit them.
    expect((await again.request('DELETE', '/api/accounts/tina')).status).toBe(204);
    await again.request('POST', '/api/accounts', { id: 'tina' });
    expect((await again.request('GET', '/api/accounts/tina/status', undefined, { token: second.token })).status).toBe(401);
  });
});
