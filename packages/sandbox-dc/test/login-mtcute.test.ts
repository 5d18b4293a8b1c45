/** An unmodified mtcute TelegramClient against the sandbox DC over TCP: login, 2FA, migration, messages. */
import { describe, expect, it } from 'vitest';
import { loginSandboxClient } from '../src/testing/sandbox.js';
import { client, sandbox } from './helpers/per-test-sandbox.js';

describe('mtcute logs in to the sandbox DC', () => {
  it('by code with a test number, then getMe and Saved Messages', async () => {
    const dc = await sandbox();
    const c = await client(dc);
    const me = await c.start({ phone: '+9996621234', code: '22222', codeSentCallback: () => {} });
    expect(me.phoneNumber).toBe('9996621234');
    expect((await c.getMe()).id).toBe(me.id);

    const sent = await c.sendText('me', 'hello, self');
    expect(sent.text).toBe('hello, self');
    const history = await c.getHistory('me');
    expect(history.map((m) => m.text)).toEqual(['hello, self']);
    expect(dc.controls.listAuthKeys().filter((k) => k.userId === me.id)).toHaveLength(1);
  });

  it('with 2FA over padded intermediate', async () => {
    const dc = await sandbox();
    dc.controls.createUser({ phone: '+15550001111', firstName: 'Twofa', password: 'hunter2', hint: 'hunter' });
    const c = await client(dc, { transport: 'padded' });
    const me = await loginSandboxClient(c, dc, '+15550001111', 'hunter2');
    expect(me.firstName).toBe('Twofa');
    expect((await c.getMe()).id).toBe(me.id);
  });

  it('migrates from DC 1 to DC 2 during login', async () => {
    const dc = await sandbox();
    const c = await client(dc, { dcId: 1 });
    const me = await c.start({ phone: '+9996625555', code: '22222', codeSentCallback: () => {} });
    expect(me.phoneNumber).toBe('9996625555');
    const keys = dc.controls.authKeysOfUser(me.id);
    expect(keys.map((k) => k.dcId)).toEqual([2]);
    expect(dc.controls.listAuthKeys().some((k) => k.dcId === 1 && k.userId === undefined)).toBe(true);
  });

  it('sends a message to another account, which reads it', async () => {
    const dc = await sandbox();
    const alice = await client(dc);
    const bob = await client(dc);
    const aliceMe = await alice.start({ phone: '+9996621111', code: '22222', codeSentCallback: () => {} });
    dc.controls.createUser({ phone: '+15550002222', firstName: 'Bob', username: 'bob_sandbox' });
    const bobMe = await loginSandboxClient(bob, dc, '+15550002222');

    await alice.sendText('bob_sandbox', 'hi bob');
    const dialogs = [];
    for await (const d of bob.iterDialogs()) dialogs.push(d);
    expect(dialogs.map((d) => d.peer.id)).toEqual([aliceMe.id]);
    const history = await bob.getHistory(aliceMe.id);
    expect(history.map((m) => [m.text, m.sender.id])).toEqual([['hi bob', aliceMe.id]]);
    expect(bobMe.username).toBe('bob_sandbox');
  });
});
