/** The loopback admin HTTP endpoint: the same controls over JSON, with clear errors for bad requests. */
import { afterEach, describe, expect, it } from 'vitest';
import { startSandboxDc, type SandboxDc } from '../src/index.js';
import { sandboxClient } from '../src/testing/sandbox.js';

let dc: SandboxDc | undefined;
afterEach(async () => {
  await dc?.close();
  dc = undefined;
});

async function post(path: string, body: unknown, contentType = 'application/json'): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${dc!.adminUrl}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

describe('admin HTTP endpoint', () => {
  it('binds to loopback and drives the controls', async () => {
    dc = await startSandboxDc({ adminPort: 0 }); // memory only
    expect(dc.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(dc.dcs.map((d) => d.id)).toEqual([1, 2]);

    const created = await post('/createUser', { phone: '+15550004444', firstName: 'Http', username: 'http_user', homeDc: 1 });
    expect(created).toMatchObject({ status: 200, json: { phone: '15550004444', homeDc: 1, hasPassword: false } });
    expect((await post('/createUser', { phone: '+15550004444' })).status).toBe(400);
    expect((await post('/createUser', {}, 'text/plain')).status).toBe(415);
    expect((await post('/noSuchControl', {})).status).toBe(404);
    expect(await post('/injectError', { method: 'users.getUsers' })).toMatchObject({ status: 400, json: { error: expect.stringContaining('code') } });
    expect((await post('/revokeAuthKey', { authKeyId: '0011223344556677' })).status).toBe(400);

    const got = await fetch(`${dc.adminUrl}/getUser?user=http_user`);
    expect(await got.json()).toMatchObject({ phone: '15550004444' });
    expect((await fetch(`${dc.adminUrl}/revokeAuthKey`)).status).toBe(405);

    // A client on DC 1 logs in with the code read over HTTP; an injected error reaches it.
    const client = await sandboxClient(dc, { dcId: 1 });
    try {
      const me = await client.start({
        phone: '+15550004444',
        codeSentCallback: () => {},
        code: async () => {
          const res = await fetch(`${dc!.adminUrl}/lastCode?phone=%2B15550004444`);
          return ((await res.json()) as { code: string }).code;
        },
      });
      expect((await post('/injectError', { method: 'users.getUsers', code: 400, message: 'SOMETHING_BAD', times: 1 })).status).toBe(200);
      await expect(client.getMe()).rejects.toMatchObject({ text: 'SOMETHING_BAD' });
      expect((await client.getMe()).id).toBe(me.id);

      const keys = (await (await fetch(`${dc.adminUrl}/authKeysOfUser?user=${me.id}`)).json()) as { authKeyId: string; dcId: number }[];
      expect(keys.map((k) => k.dcId)).toEqual([1]);
      expect((await post('/terminateSession', { authKeyId: keys[0]!.authKeyId })).status).toBe(200);
      await expect(client.getMe()).rejects.toMatchObject({ text: 'SESSION_REVOKED' });

      // auth.logOut on a revoked session works and leaves the key unregistered.
      await client.logOut();
      await expect(client.getMe()).rejects.toMatchObject({ text: 'AUTH_KEY_UNREGISTERED' });
    } finally {
      await client.destroy();
    }
  });

  it('sends messages, pauses pushes, sets update limits, accepts QR tokens and reports the referee', async () => {
    dc = await startSandboxDc({ adminPort: 0 });
    await post('/createUser', { phone: '+15550004441', username: 'http_alice' });
    await post('/createUser', { phone: '+15550004442', username: 'http_bob' });
    expect(await post('/deliverMessage', { from: 'http_alice', to: '+15550004442', text: 'over http' })).toMatchObject({ status: 200, json: { id: 1, recipientMessageId: 1 } });
    expect((await post('/deliverMessage', { from: 'http_alice', to: 'nobody_here', text: 'x' })).status).toBe(400);

    expect((await post('/pausePushes', { user: 'http_bob' })).status).toBe(200);
    const paused = (await (await fetch(`${dc.adminUrl}/pushesPaused`)).json()) as { all: boolean; users: number[] };
    expect(paused.all).toBe(false);
    expect(paused.users).toHaveLength(1);
    expect(await post('/resumePushes', { tooLong: 'maybe' })).toMatchObject({ status: 400, json: { error: expect.stringContaining('tooLong') } });
    expect(await post('/resumePushes', {})).toMatchObject({ status: 200, json: { caughtUp: [] } });

    expect(await post('/setUpdateLimits', { differenceSliceSize: 10 })).toMatchObject({ status: 200, json: { differenceSliceSize: 10 } });
    expect((await post('/setUpdateLimits', { differenceSliceSize: 0 })).status).toBe(400);

    // No QR code is waiting; a malformed token is refused before any lookup.
    expect(await post('/acceptLoginToken', { user: 'http_alice' })).toMatchObject({ status: 400, json: { error: 'no QR login token is waiting' } });
    expect((await post('/acceptLoginToken', { user: 'http_alice', token: 'not base64!' })).status).toBe(400);
    expect((await post('/acceptLoginToken', { user: 'http_alice', token: 'tg://login?nothing' })).status).toBe(400);
    expect((await post('/acceptLoginToken', { user: 'http_alice', token: 'tg://[' })).status).toBe(400);
    expect(await post('/acceptLoginToken', { user: 'http_alice', token: 'AAAA' })).toMatchObject({ status: 400, json: { error: expect.stringContaining('AUTH_TOKEN_INVALIDX') } });

    expect((await post('/setLoginTokenLifetime', { ms: 1e300 })).status).toBe(400); // expires must fit TL's int
    expect((await post('/setLoginTokenLifetime', { ms: 5000 })).status).toBe(200);

    expect(await (await fetch(`${dc.adminUrl}/doubleOwnerMoments`)).json()).toEqual({ count: 0, moments: [] });
  });
});
