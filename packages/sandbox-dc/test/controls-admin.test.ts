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
});
