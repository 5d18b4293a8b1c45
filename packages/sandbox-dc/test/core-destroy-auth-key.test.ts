/** destroy_auth_key (core.telegram.org/mtproto/service_messages): answered top-level, and the key is gone. */
import { afterEach, describe, expect, it } from 'vitest';
import type { TelegramClient } from '@mtcute/node';
import { RawMtprotoClient } from '../src/testing/raw-mtproto-client.js';
import { loginSandboxClient, sandboxClient, startTestSandbox, type TestSandbox } from '../src/testing/sandbox.js';

let dc: TestSandbox | undefined;
let client: TelegramClient | undefined;
afterEach(async () => {
  await client?.destroy();
  await dc?.dispose();
  client = dc = undefined;
});

async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('destroy_auth_key', () => {
  it('raw client: destroy_auth_key_ok comes top-level, then the key gets -404 and is gone from the DC', async () => {
    dc = await startTestSandbox();
    const dc2 = dc.dcs.find((d) => d.id === 2)!;
    const c = await RawMtprotoClient.connect(dc2.port);
    await c.exchangeKey(dc.publicKeyPem, { dc: 2 });
    expect((await c.callWithLayer({ _: 'help.getConfig' }))._).toBe('config');
    expect(dc.controls.listAuthKeys()).toHaveLength(1);

    c.send({ _: 'mt_destroy_auth_key' }, { contentRelated: false });
    const answer = await c.waitForObject('mt_destroy_auth_key_ok');
    expect(answer.reqMsgId).toBeUndefined(); // not inside rpc_result
    expect(dc.controls.listAuthKeys()).toHaveLength(0);

    c.send({ _: 'help.getConfig' });
    await until(() => c.transportErrors.includes(404) || c.closed);
    expect(c.transportErrors).toContain(404);
    c.close();
  });

  it('mtcute logOut: the key on the DC left behind by a migration is destroyed, the primary key logged out', async () => {
    dc = await startTestSandbox();
    // +99966 2 YYYY lives on DC 2: a client starting on DC 1 is sent there with PHONE_MIGRATE_2
    // and keeps its DC 1 connection, where logOut sends destroy_auth_key.
    client = await sandboxClient(dc, { dcId: 1 });
    await loginSandboxClient(client, dc, '+99966 2 4321'.replace(/ /g, ''));
    const before = dc.controls.listAuthKeys();
    expect(before.map((k) => k.dcId).sort()).toEqual([1, 2]);
    const onDc2 = before.find((k) => k.dcId === 2)!;
    expect(onDc2.userId).toBeDefined();

    await client.logOut();
    await until(() => !dc!.controls.listAuthKeys().some((k) => k.dcId === 1));
    const after = dc.controls.listAuthKeys();
    expect(after.map((k) => k.authKeyId)).toEqual([onDc2.authKeyId]);
    expect(after[0]!.userId).toBeUndefined();
  });
});
