/**
 * QR login (core.telegram.org/api/qr-login) end to end with mtcute's own signInQr: scanned by the
 * controls and by a second mtcute client's auth.acceptLoginToken, with 2FA, with DC migration both
 * ways, with expiry and refresh, and Telegram's errors for bad tokens.
 */
import Long from 'long';
import { describe, expect, it } from 'vitest';
import type { TelegramClient } from '@mtcute/node';
import { loginSandboxClient, startTestSandbox, type TestSandbox } from '../src/testing/sandbox.js';
import { eventually } from './helpers/eventually.js';
import { afterThisTest, client, sandbox } from './helpers/per-test-sandbox.js';

const PHONE = '+15550007001';

function tokenOf(url: string): Uint8Array {
  const token = new URL(url).searchParams.get('token');
  if (!token) throw new Error(`no token in ${url}`);
  return new Uint8Array(Buffer.from(token, 'base64url'));
}

/** Runs mtcute's signInQr and "scans" each QR code shown with `scan` (later, as a person would). */
async function signInQr(c: TelegramClient, scan: (url: string, shown: string[]) => void | Promise<void>, password?: string): Promise<{ userId: number; shown: string[]; scanned: number }> {
  const shown: string[] = [];
  let scanned = 0; // updateLoginToken pushes seen by mtcute
  const me = await c.signInQr({
    onUrlUpdated: (url) => {
      shown.push(url);
      setTimeout(() => void scan(url, shown), 50);
    },
    onQrScanned: () => scanned++,
    password,
  });
  return { userId: me.id, shown, scanned };
}

const exportToken = (c: TelegramClient, exceptIds: number[] = []) =>
  c.call({ _: 'auth.exportLoginToken', apiId: 1, apiHash: 'sandbox-api-hash', exceptIds: exceptIds.map((id) => Long.fromNumber(id)) });

function keyOnDc(dc: TestSandbox, userId: number, dcId: number): boolean {
  return dc.controls.authKeysOfUser(userId).some((k) => k.dcId === dcId && !k.sessionRevoked);
}

describe('QR login with mtcute', () => {
  it('scanned through the controls: the waiting client gets updateLoginToken and is logged in', async () => {
    const dc = await sandbox();
    const user = dc.controls.createUser({ phone: PHONE, firstName: 'Qr' });
    const c = await client(dc);
    const { userId, shown, scanned } = await signInQr(c, (url) => void dc.controls.acceptLoginToken(PHONE, url));
    expect(userId).toBe(user.id);
    expect(scanned).toBe(1); // the push, not the token's expiry, moved mtcute on
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatch(/^tg:\/\/login\?token=[A-Za-z0-9_-]+$/);
    expect((await c.getMe()).id).toBe(user.id);
    expect(keyOnDc(dc, user.id, 2)).toBe(true);
    // The scanned token is used up.
    expect(() => dc.controls.acceptLoginToken(PHONE, shown[0])).toThrow(/AUTH_TOKEN_(INVALIDX|ALREADY_ACCEPTED)/);
  });

  it('scanned by a second mtcute client with auth.acceptLoginToken, which gets the new authorization', async () => {
    const dc = await sandbox();
    const user = dc.controls.createUser({ phone: PHONE, firstName: 'Qr' });
    const phone = await client(dc);
    await loginSandboxClient(phone, dc, PHONE);
    const c = await client(dc, { extra: { initConnectionOptions: { deviceModel: 'qr-desktop' } } });
    const accepted: unknown[] = [];
    const { userId } = await signInQr(c, async (url) => {
      accepted.push(await phone.call({ _: 'auth.acceptLoginToken', token: tokenOf(url) }));
    });
    expect(userId).toBe(user.id);
    expect(accepted).toEqual([expect.objectContaining({ _: 'authorization', deviceModel: 'qr-desktop' })]);
    expect(dc.controls.authKeysOfUser(user.id)).toHaveLength(2);
  });

  it('with 2FA: export answers SESSION_PASSWORD_NEEDED, then the password finishes the login', async () => {
    const dc = await sandbox();
    const user = dc.controls.createUser({ phone: PHONE, password: 'qr-secret' });
    const c = await client(dc);
    const { userId } = await signInQr(c, (url) => void dc.controls.acceptLoginToken(PHONE, url), 'qr-secret');
    expect(userId).toBe(user.id);
    expect((await c.getMe()).id).toBe(user.id);
  });

  it('migrates to the user’s home DC: loginTokenMigrateTo, then importLoginToken there (also with 2FA)', async () => {
    const dc = await sandbox();
    // Home DC 1, client starts on DC 2.
    const one = dc.controls.createUser({ phone: '+15550007101', homeDc: 1 });
    const c1 = await client(dc, { dcId: 2 });
    expect((await signInQr(c1, (url) => void dc.controls.acceptLoginToken(one.id, url))).userId).toBe(one.id);
    expect(keyOnDc(dc, one.id, 1)).toBe(true);
    expect(keyOnDc(dc, one.id, 2)).toBe(false);

    // Home DC 2 with a password, client starts on DC 1: importLoginToken answers SESSION_PASSWORD_NEEDED.
    const two = dc.controls.createUser({ phone: '+15550007102', homeDc: 2, password: 'pw2' });
    const c2 = await client(dc, { dcId: 1 });
    expect((await signInQr(c2, (url) => void dc.controls.acceptLoginToken(two.id, url), 'pw2')).userId).toBe(two.id);
    expect(keyOnDc(dc, two.id, 2)).toBe(true);
    expect((await c2.getMe()).id).toBe(two.id);
  });

  it('tokens expire and are refreshed: a new QR code after expiry, the old one refused', async () => {
    const dc = await sandbox();
    const user = dc.controls.createUser({ phone: PHONE });
    dc.controls.setLoginTokenLifetime(1500);
    const c = await client(dc);
    let oldCode: unknown;
    const { userId, shown } = await signInQr(c, (url, all) => {
      if (all.length !== 2) return; // the first code is left to expire
      try {
        dc.controls.acceptLoginToken(PHONE, all[0]);
      } catch (e) {
        oldCode = e;
      }
      dc.controls.acceptLoginToken(PHONE, url);
    });
    expect(userId).toBe(user.id);
    expect(shown).toHaveLength(2);
    expect(shown[1]).not.toBe(shown[0]);
    expect(String(oldCode)).toMatch(/AUTH_TOKEN_EXPIRED/);
  });

  it('answers bad tokens with Telegram’s errors; a repeated export before expiry shows the same code', async () => {
    const dc = await sandbox();
    const user = dc.controls.createUser({ phone: PHONE });
    const scanner = await client(dc);
    await loginSandboxClient(scanner, dc, PHONE);
    const waiting = await client(dc);

    const first = await exportToken(waiting);
    const again = await exportToken(waiting);
    if (first._ !== 'auth.loginToken' || again._ !== 'auth.loginToken') throw new Error(`unexpected ${first._}`);
    expect(Buffer.from(again.token)).toEqual(Buffer.from(first.token));
    expect(first.expires * 1000).toBeGreaterThan(Date.now());

    await expect(scanner.call({ _: 'auth.acceptLoginToken', token: new Uint8Array(32) })).rejects.toMatchObject({ text: 'AUTH_TOKEN_INVALIDX' });
    await expect(waiting.call({ _: 'auth.importLoginToken', token: new Uint8Array(32) })).rejects.toMatchObject({ text: 'AUTH_TOKEN_INVALID' });

    // except_ids: the app already has this user.
    const other = await client(dc);
    const excepted = await exportToken(other, [user.id]);
    if (excepted._ !== 'auth.loginToken') throw new Error('unexpected');
    await expect(scanner.call({ _: 'auth.acceptLoginToken', token: excepted.token })).rejects.toMatchObject({ text: 'AUTH_TOKEN_EXCEPTION' });

    await scanner.call({ _: 'auth.acceptLoginToken', token: first.token });
    await expect(scanner.call({ _: 'auth.acceptLoginToken', token: first.token })).rejects.toMatchObject({ text: 'AUTH_TOKEN_ALREADY_ACCEPTED' });
    const done = await exportToken(waiting);
    expect(done).toMatchObject({ _: 'auth.loginTokenSuccess', authorization: { _: 'auth.authorization', user: { id: user.id } } });
    await eventually(async () => (await waiting.call({ _: 'users.getUsers', id: [{ _: 'inputUserSelf' }] }))[0]?.id === user.id, 'the waiting key logged in');

    dc.controls.setLoginTokenLifetime(1);
    const late = await client(dc);
    const stale = await exportToken(late);
    if (stale._ !== 'auth.loginToken') throw new Error('unexpected');
    await new Promise((r) => setTimeout(r, 1100));
    await expect(scanner.call({ _: 'auth.acceptLoginToken', token: stale.token })).rejects.toMatchObject({ text: 'AUTH_TOKEN_EXPIRED' });
    const fresh = await exportToken(late);
    if (fresh._ !== 'auth.loginToken') throw new Error('unexpected');
    expect(Buffer.from(fresh.token)).not.toEqual(Buffer.from(stale.token));
  });

  it('an accepted token survives a DC restart: the waiting key logs in afterwards', async () => {
    let dc = await startTestSandbox();
    afterThisTest(() => dc.dispose());
    const user = dc.controls.createUser({ phone: PHONE });
    const waiting = await client(dc);
    const exported = await exportToken(waiting);
    if (exported._ !== 'auth.loginToken') throw new Error('unexpected');
    dc.controls.acceptLoginToken(PHONE, exported.token);
    dc = await dc.restart();
    expect(await exportToken(waiting)).toMatchObject({ _: 'auth.loginTokenSuccess', authorization: { user: { id: user.id } } });
  });
});
