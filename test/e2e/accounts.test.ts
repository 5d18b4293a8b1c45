/**
 * Many accounts in one service, through the real process and a real sandbox DC over TCP: accounts created
 * over HTTP log in side by side (code and 2FA), come back after SIGTERM and kill -9 without a new login,
 * list a page at a time with masked phones, and are deleted with their files (logged out at the DC).
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { accountDir, accountFile } from '../helpers/layout.js';
import { accountBase, loginThrough, uniquePhone, waitForStatus, type Body } from '../helpers/sandbox-service.js';
import { sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const sandbox = sandboxPerFile();

async function create(svc: ServiceProcess, id: string): Promise<Body> {
  const res = await svc.request('POST', '/api/accounts', { id });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

describe('accounts (real process, sandbox DC over TCP)', () => {
  it('two accounts log in side by side (code, and 2FA); both come back after SIGTERM and after kill -9, with no new login', async () => {
    const dc = sandbox.dc;
    const alicePhone = uniquePhone();
    const bobPhone = uniquePhone();
    dc.controls.createUser({ phone: alicePhone });
    dc.controls.createUser({ phone: bobPhone, password: 'bob-secret', hint: 'b' });
    const svc = await sandbox.service();

    expect(await create(svc, 'alice')).toMatchObject({ id: 'alice', state: 'logged_out', authenticated: false });
    await create(svc, 'bob');
    // Both logins interleaved: each account has its own login in progress.
    const aliceSent = await svc.request('POST', '/api/accounts/alice/auth/send-code', { phone: alicePhone });
    const bobSent = await svc.request('POST', '/api/accounts/bob/auth/send-code', { phone: bobPhone });
    expect([aliceSent.status, bobSent.status]).toEqual([200, 200]);
    const bobCode = await svc.request('POST', '/api/accounts/bob/auth/verify-code', { code: dc.controls.lastCode(bobPhone) });
    expect(bobCode.body).toMatchObject({ state: 'password_required', hint: 'b' });
    const aliceDone = await svc.request('POST', '/api/accounts/alice/auth/verify-code', { code: dc.controls.lastCode(alicePhone) });
    expect(aliceDone.body).toMatchObject({ state: 'authenticated', user: { phone: alicePhone } });
    const bobDone = await svc.request('POST', '/api/accounts/bob/auth/verify-password', { password: 'bob-secret' });
    expect(bobDone.body).toMatchObject({ state: 'authenticated', user: { phone: bobPhone } });

    const aliceMe = await svc.request('GET', '/api/accounts/alice/me');
    const bobMe = await svc.request('GET', '/api/accounts/bob/me');
    expect(aliceMe.body.phone).toBe(alicePhone);
    expect(bobMe.body.phone).toBe(bobPhone);
    expect(aliceMe.body.id).not.toBe(bobMe.body.id);
    // Each account's files in its own directory, the seed's format and modes.
    for (const id of ['alice', 'bob']) {
      expect(fs.statSync(accountDir(svc.dataDir, id)).mode & 0o777).toBe(0o700);
      expect(fs.statSync(accountFile(svc.dataDir, 'session.json', id)).mode & 0o777).toBe(0o600);
      const authState = JSON.parse(fs.readFileSync(accountFile(svc.dataDir, 'auth_state.json', id), 'utf8'));
      expect(Object.keys(authState)).toEqual(['user_auth', 'user_id', 'phone', 'saved_at', 'version']);
    }
    const keysBefore = [dc.controls.authKeysOfUser(alicePhone).length, dc.controls.authKeysOfUser(bobPhone).length];

    // SIGTERM, then kill -9: both accounts restored each time, validated, no new key at the DC.
    let current = svc;
    for (const stop of ['SIGTERM', 'SIGKILL'] as const) {
      if (stop === 'SIGTERM') expect(await current.stop()).toBe(0);
      else await current.kill9();
      current = await sandbox.service({ dataDir: svc.dataDir });
      for (const id of ['alice', 'bob']) {
        const restored = await waitForStatus(current, (b) => b.session.validation === 'valid', `${id} valid`, { account: id });
        expect(restored).toMatchObject({ id, state: 'authenticated', session: { restored: true } });
      }
      expect(current.logLines().filter((l) => l.msg === LOG_MESSAGES.sessionRestored).map((l) => l.account).sort()).toEqual(['alice', 'bob']);
    }
    expect([dc.controls.authKeysOfUser(alicePhone).length, dc.controls.authKeysOfUser(bobPhone).length]).toEqual(keysBefore);

    // Every line about an account carries its id.
    const accountLines = current.logLines().filter((l) => typeof l.msg === 'string' && l.msg.startsWith(LOG_MESSAGES.accountState('')));
    expect(accountLines.length).toBeGreaterThanOrEqual(2);
    for (const line of accountLines) expect(['alice', 'bob']).toContain(line.account);
  });

  it('create: 201 with the status, 409 ACCOUNT_EXISTS, 400 for a bad id; unknown account 404 ACCOUNT_NOT_FOUND on every route', async () => {
    const svc = await sandbox.service();
    await create(svc, 'carol_1');
    const again = await svc.request('POST', '/api/accounts', { id: 'carol_1' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('ACCOUNT_EXISTS');
    for (const id of ['', 'Carol', '-x', 'a'.repeat(65), 'a/b', 'ä', '.hidden', 42, null]) {
      const bad = await svc.request('POST', '/api/accounts', { id });
      expect(bad.status, String(id)).toBe(400);
      expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect((await svc.request('POST', '/api/accounts', {})).status).toBe(400);
    for (const [method, route] of [
      ['GET', ''],
      ['GET', '/status'],
      ['DELETE', ''],
      ['GET', '/me'],
      ['POST', '/auth/logout'],
      ['POST', '/auth/resend-code'],
      ['GET', '/tokens'],
    ] as const) {
      const res = await svc.request(method, `/api/accounts/nobody${route}`);
      expect(res.status, `${method} ${route}`).toBe(404);
      expect(res.body.error.code).toBe('ACCOUNT_NOT_FOUND');
    }
    const sendCode = await svc.request('POST', '/api/accounts/nobody/auth/send-code', { phone: '+15550001111' });
    expect(sendCode.body.error.code).toBe('ACCOUNT_NOT_FOUND');
  });

  it('lists accounts a page at a time (limit + cursor), phones masked; /api/telegram means the account default, created on first use', async () => {
    const dc = sandbox.dc;
    const svc = await sandbox.service();
    const ids = Array.from({ length: 12 }, (_, i) => `acct-${String(i).padStart(2, '0')}`);
    for (const id of ids) await create(svc, id);
    const phone = uniquePhone();
    dc.controls.createUser({ phone });
    await loginThrough(svc, dc, phone, undefined, 'acct-03');

    const seen: Body[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=5&cursor=${cursor}` : '?limit=5';
      const page = await svc.request('GET', `/api/accounts${query}`);
      expect(page.status).toBe(200);
      expect(page.body.accounts.length).toBeLessThanOrEqual(5);
      seen.push(...page.body.accounts);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.map((a) => a.id)).toEqual(ids);
    const loggedIn = seen.find((a) => a.id === 'acct-03');
    expect(loggedIn).toMatchObject({ state: 'authenticated', user: { phone: expect.stringMatching(/^\+\d{4}\*\*\*\d{4}$/) } });
    expect(JSON.stringify(seen)).not.toContain(phone);
    expect((await svc.request('GET', '/api/accounts?limit=abc')).status).toBe(400);
    expect((await svc.request('GET', '/api/accounts?cursor=%00%01')).status).toBe(400);

    // The single-account API: `default` does not exist until it is used, then it is an account like the others.
    expect((await svc.request('GET', '/api/accounts/default')).status).toBe(404);
    const legacy = await svc.request('GET', '/api/telegram/status');
    expect(legacy.status).toBe(200);
    expect(legacy.body.id).toBeUndefined(); // exactly the single-account body
    expect((await svc.request('GET', '/api/accounts/default')).body).toMatchObject({ id: 'default', state: 'logged_out' });
  });

  it('DELETE logs the account out at the DC, removes its directory, 204; the others are untouched', async () => {
    const dc = sandbox.dc;
    const svc = await sandbox.service();
    const [gone, kept] = [uniquePhone(), uniquePhone()];
    for (const phone of [gone, kept]) dc.controls.createUser({ phone });
    await create(svc, 'gone');
    await create(svc, 'kept');
    await loginThrough(svc, dc, gone, undefined, 'gone');
    await loginThrough(svc, dc, kept, undefined, 'kept');
    expect(dc.controls.authKeysOfUser(gone).length).toBeGreaterThan(0);

    const res = await svc.request('DELETE', '/api/accounts/gone');
    expect(res.status).toBe(204);
    expect(dc.controls.authKeysOfUser(gone)).toEqual([]);
    expect(fs.existsSync(accountDir(svc.dataDir, 'gone'))).toBe(false);
    expect((await svc.request('GET', '/api/accounts/gone')).status).toBe(404);
    expect((await svc.request('DELETE', '/api/accounts/gone')).status).toBe(404);
    expect((await svc.request('GET', `${accountBase('kept')}/me`)).body.phone).toBe(kept);
    // An id can be used again after a delete: a new, empty account.
    expect(await create(svc, 'gone')).toMatchObject({ state: 'logged_out' });
  });
});
