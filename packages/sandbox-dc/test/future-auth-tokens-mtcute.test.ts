/**
 * Future auth tokens (core.telegram.org/api/auth#future-auth-tokens), driven with mtcute raw calls:
 * handed out at login and at logout, honoured once by auth.sendCode's codeSettings.logout_tokens
 * (auth.sentCodeSuccess, no code), per user, expiring, kept across a DC restart; anything else falls
 * back to the normal code flow without an error.
 */
import { describe, expect, it } from 'vitest';
import type { tl } from '@mtcute/core';
import type { TelegramClient } from '@mtcute/node';
import { startTestSandbox, type TestSandbox } from '../src/testing/sandbox.js';
import { afterThisTest, client, sandbox } from './helpers/per-test-sandbox.js';

const PHONE = '+15550008001';
const OTHER = '+15550008002';

const sendCode = (c: TelegramClient, phone: string, logoutTokens?: Uint8Array[]) =>
  c.call({ _: 'auth.sendCode', phoneNumber: phone, apiId: 1, apiHash: 'sandbox-api-hash', settings: { _: 'codeSettings', logoutTokens } });

/** A raw-call client: no updates loop (these tests log keys in and out by hand). */
const rawClient = (dc: TestSandbox): Promise<TelegramClient> => client(dc, { extra: { disableUpdates: true } });

/** Logs a key (a fresh one unless `c` is given) in by code with raw calls; returns the client and its auth.authorization. */
async function loginByCode(dc: TestSandbox, phone: string, given?: TelegramClient): Promise<{ c: TelegramClient; auth: tl.auth.RawAuthorization }> {
  const c = given ?? (await rawClient(dc));
  const sent = await sendCode(c, phone);
  if (sent._ !== 'auth.sentCode') throw new Error(`expected a code, got ${sent._}`);
  const auth = await c.call({ _: 'auth.signIn', phoneNumber: phone, phoneCodeHash: sent.phoneCodeHash, phoneCode: dc.controls.lastCode(phone)! });
  if (auth._ !== 'auth.authorization') throw new Error(`unexpected ${auth._}`);
  return { c, auth };
}

async function logOutForToken(c: TelegramClient): Promise<Uint8Array> {
  const out = await c.call({ _: 'auth.logOut' });
  if (!out.futureAuthToken) throw new Error('no future auth token at logout');
  return out.futureAuthToken;
}

async function selfId(c: TelegramClient): Promise<number> {
  const [me] = await c.call({ _: 'users.getUsers', id: [{ _: 'inputUserSelf' }] });
  return me!.id;
}

describe('future auth tokens', () => {
  it('are handed out at login and logout, and log a new key in without a code, once', async () => {
    const dc = await sandbox();
    const user = dc.controls.createUser({ phone: PHONE });
    const { c, auth } = await loginByCode(dc, PHONE);
    expect(auth.futureAuthToken).toBeInstanceOf(Uint8Array);
    const atLogout = await logOutForToken(c);
    expect(Buffer.from(atLogout)).not.toEqual(Buffer.from(auth.futureAuthToken!));

    const fresh = await rawClient(dc);
    const codesBefore = dc.controls.lastCode(PHONE);
    const garbage = new Uint8Array(32).fill(7);
    const success = await sendCode(fresh, PHONE, [garbage, atLogout]);
    expect(success._).toBe('auth.sentCodeSuccess');
    if (success._ !== 'auth.sentCodeSuccess' || success.authorization._ !== 'auth.authorization') throw new Error('unreachable');
    expect(success.authorization.user.id).toBe(user.id);
    expect(success.authorization.futureAuthToken).toBeInstanceOf(Uint8Array); // a new one for next time
    expect(await selfId(fresh)).toBe(user.id);
    expect(dc.controls.lastCode(PHONE)).toBe(codesBefore); // no code was issued

    // Used up: the same token again (on the first key, logged out) means the normal code flow.
    expect((await sendCode(c, PHONE, [atLogout]))._).toBe('auth.sentCode');
    // The login-time token still works (it is another token of the same user).
    expect((await sendCode(c, PHONE, [auth.futureAuthToken!]))._).toBe('auth.sentCodeSuccess');
    expect(await selfId(c)).toBe(user.id);
  });

  it('are per user, expire, and are ignored for 2FA accounts — the normal code flow, no error', async () => {
    const dc = await sandbox();
    dc.controls.createUser({ phone: PHONE });
    dc.controls.createUser({ phone: OTHER, password: 'pw' });
    const c = (await loginByCode(dc, PHONE)).c;
    const mine = await logOutForToken(c);

    // Another user's token does nothing for this number, and is not used up by trying.
    expect((await sendCode(c, OTHER, [mine]))._).toBe('auth.sentCode');
    expect((await sendCode(c, PHONE, [mine]))._).toBe('auth.sentCodeSuccess');

    // A 2FA account earns tokens too, but they would skip only the code, not the password: the code is sent.
    const k = await rawClient(dc);
    const sent = await sendCode(k, OTHER);
    if (sent._ !== 'auth.sentCode') throw new Error('unexpected');
    await expect(k.call({ _: 'auth.signIn', phoneNumber: OTHER, phoneCodeHash: sent.phoneCodeHash, phoneCode: dc.controls.lastCode(OTHER)! })).rejects.toMatchObject({ text: 'SESSION_PASSWORD_NEEDED' });
    await k.checkPassword('pw');
    const twofaToken = await logOutForToken(k);
    expect((await sendCode(k, OTHER, [twofaToken]))._).toBe('auth.sentCode');

    dc.controls.setFutureAuthTokenLifetime(1);
    const expiring = await logOutForToken(c); // c is logged in again (by `mine` above)
    await new Promise((r) => setTimeout(r, 20));
    expect((await sendCode(c, PHONE, [expiring]))._).toBe('auth.sentCode');
  });

  it('are kept across a DC restart and work through mtcute’s own start({ futureAuthTokens })', async () => {
    let dc = await startTestSandbox();
    afterThisTest(() => dc.dispose());
    const user = dc.controls.createUser({ phone: PHONE });
    const token = await logOutForToken((await loginByCode(dc, PHONE)).c);
    dc = await dc.restart();
    const c = await client(dc);
    const me = await c.start({
      phone: PHONE,
      futureAuthTokens: [token],
      code: () => {
        throw new Error('a code was asked for');
      },
    });
    expect(me.id).toBe(user.id);
  });
});
