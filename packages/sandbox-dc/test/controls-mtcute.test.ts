/** Every control, observed through an unmodified mtcute client over TCP. */
import { describe, expect, it } from 'vitest';
import type { SentCode, TelegramClient } from '@mtcute/node';
import { loginSandboxClient, startTestSandbox, type TestSandbox } from '../src/testing/sandbox.js';
import { afterThisTest, client, sandbox } from './helpers/per-test-sandbox.js';

async function loggedIn(dc: TestSandbox, phone = '+9996621234'): Promise<{ c: TelegramClient; userId: number; keyId: string }> {
  const c = await client(dc);
  const me = await loginSandboxClient(c, dc, phone);
  const keys = dc.controls.authKeysOfUser(me.id);
  expect(keys).toHaveLength(1);
  return { c, userId: me.id, keyId: keys[0]!.authKeyId };
}

describe('sandbox DC controls seen by mtcute', () => {
  it('survives dropped connections and a DC restart without logging in again', async () => {
    let dc = await startTestSandbox();
    afterThisTest(() => dc.dispose());
    const { c, userId } = await loggedIn(dc);
    await c.sendText('me', 'before restart');

    dc.controls.dropConnections();
    expect((await c.getMe()).id).toBe(userId);

    const session = await c.exportSession();
    dc = await dc.restart();
    expect((await c.getMe()).id).toBe(userId);
    expect(dc.controls.listSessions().length).toBeGreaterThan(0);

    // A brand-new client with the saved session is logged in too, and sees the old message.
    const fresh = await client(dc);
    await fresh.importSession(session);
    expect((await fresh.getMe()).id).toBe(userId);
    expect((await fresh.getHistory('me')).map((m) => m.text)).toEqual(['before restart']);
  });

  it('a DC restart between send-code and sign-in, and between sign-in and the password, loses nothing', async () => {
    let dc = await startTestSandbox();
    afterThisTest(() => dc.dispose());
    dc.controls.createUser({ phone: '+15550005555', password: 'pw' });
    const c = await client(dc);
    const sent = (await c.sendCode({ phone: '+15550005555' })) as SentCode;
    const code = dc.controls.lastCode('+15550005555')!;
    dc = await dc.restart();
    await expect(c.signIn({ phone: '+15550005555', phoneCodeHash: sent.phoneCodeHash, phoneCode: code })).rejects.toMatchObject({ text: 'SESSION_PASSWORD_NEEDED' });
    dc = await dc.restart();
    const me = await c.checkPassword('pw');
    expect(me.phoneNumber).toBe('15550005555');
  });

  it('markAuthKeyDuplicated → 406 AUTH_KEY_DUPLICATED for every request, also after a restart', async () => {
    let dc = await startTestSandbox();
    afterThisTest(() => dc.dispose());
    const { c, keyId } = await loggedIn(dc);
    dc.controls.markAuthKeyDuplicated(keyId);
    await expect(c.getMe()).rejects.toMatchObject({ code: 406, text: 'AUTH_KEY_DUPLICATED' });
    dc = await dc.restart();
    await expect(c.getMe()).rejects.toMatchObject({ code: 406, text: 'AUTH_KEY_DUPLICATED' });
    expect(dc.controls.listAuthKeys().find((k) => k.authKeyId === keyId)?.duplicated).toBe(true);
  });

  it('revokeAuthKey → AUTH_KEY_UNREGISTERED, and start() logs in again', async () => {
    const dc = await sandbox();
    const { c, userId, keyId } = await loggedIn(dc);
    dc.controls.revokeAuthKey(keyId);
    await expect(c.getMe()).rejects.toMatchObject({ code: 401, text: 'AUTH_KEY_UNREGISTERED' });
    const me = await loginSandboxClient(c, dc, '+9996621234');
    expect(me.id).toBe(userId);
  });

  it('terminateSession → SESSION_REVOKED; start() logs out and in again', async () => {
    const dc = await sandbox();
    const { c, userId, keyId } = await loggedIn(dc);
    dc.controls.terminateSession(keyId);
    await expect(c.getMe()).rejects.toMatchObject({ code: 401, text: 'SESSION_REVOKED' });
    const me = await loginSandboxClient(c, dc, '+9996621234');
    expect(me.id).toBe(userId);
    expect(dc.controls.authKeysOfUser(userId).every((k) => !k.sessionRevoked)).toBe(true);
  });

  it('deactivateUser → USER_DEACTIVATED', async () => {
    const dc = await sandbox();
    const { c } = await loggedIn(dc);
    dc.controls.deactivateUser('+9996621234');
    await expect(c.getMe()).rejects.toMatchObject({ code: 401, text: 'USER_DEACTIVATED' });
  });

  it('forgetAuthKey → transport -404; mtcute makes a new key, which is not logged in', async () => {
    const dc = await sandbox();
    const { c, keyId } = await loggedIn(dc);
    dc.controls.forgetAuthKey(keyId);
    await expect(c.getMe()).rejects.toMatchObject({ code: 401, text: 'AUTH_KEY_UNREGISTERED' });
    expect(dc.controls.listAuthKeys().map((k) => k.authKeyId)).not.toContain(keyId);
    expect(dc.controls.listAuthKeys()).toHaveLength(1);
  });

  it('FLOOD_WAIT: mtcute waits out ≤10 s itself and throws for longer waits', async () => {
    const dc = await sandbox();
    const { c, userId } = await loggedIn(dc);
    dc.controls.injectFloodWait('users.getUsers', 1, 1);
    const started = Date.now();
    expect((await c.getMe()).id).toBe(userId);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // it did wait (a lower bound, not a speed check)

    dc.controls.injectFloodWait('users.getUsers', 30, 1);
    await expect(c.getMe()).rejects.toMatchObject({ code: 420, seconds: 30 });
  });

  it('answers wrong codes, expired codes and wrong passwords with Telegram errors', async () => {
    const dc = await sandbox();
    dc.controls.createUser({ phone: '+15550003333', password: 'right' });
    const c = await client(dc);
    const sent = (await c.sendCode({ phone: '+15550003333' })) as SentCode;
    const wrongCode = dc.controls.lastCode('+15550003333') === '00000' ? '11111' : '00000';
    await expect(c.signIn({ phone: '+15550003333', phoneCodeHash: sent.phoneCodeHash, phoneCode: wrongCode })).rejects.toMatchObject({ text: 'PHONE_CODE_INVALID' });

    dc.controls.setCodeLifetime(1);
    const sent2 = (await c.sendCode({ phone: '+15550003333' })) as SentCode;
    await new Promise((r) => setTimeout(r, 5));
    await expect(c.signIn({ phone: '+15550003333', phoneCodeHash: sent2.phoneCodeHash, phoneCode: dc.controls.lastCode('+15550003333')! })).rejects.toMatchObject({ text: 'PHONE_CODE_EXPIRED' });

    dc.controls.setCodeLifetime(60_000);
    const sent3 = (await c.sendCode({ phone: '+15550003333' })) as SentCode;
    await expect(c.signIn({ phone: '+15550003333', phoneCodeHash: sent3.phoneCodeHash, phoneCode: dc.controls.lastCode('+15550003333')! })).rejects.toMatchObject({ text: 'SESSION_PASSWORD_NEEDED' });
    await expect(c.checkPassword('wrong')).rejects.toMatchObject({ text: 'PASSWORD_HASH_INVALID' });
    expect((await c.checkPassword('right')).phoneNumber).toBe('15550003333');
  });

  it('setAnswerDelay and stopListening / startListening', async () => {
    const dc = await sandbox();
    const { c, userId } = await loggedIn(dc);
    dc.controls.setAnswerDelay(300);
    expect((await c.getMe()).id).toBe(userId);
    dc.controls.setAnswerDelay(0);

    await dc.controls.stopListening();
    const pending = c.getMe();
    await new Promise((r) => setTimeout(r, 300));
    await dc.controls.startListening();
    expect((await pending).id).toBe(userId);
  });
});
