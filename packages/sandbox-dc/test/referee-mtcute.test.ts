/**
 * The DC as referee (issue 8): two mtcute clients that share one auth key under different device
 * models are a double-owner moment; a hand-over (the first gone before the second connects) is not.
 */
import { describe, expect, it } from 'vitest';
import type { TelegramClient } from '@mtcute/node';
import { loginSandboxClient, type TestSandbox } from '../src/testing/sandbox.js';
import { eventually } from './helpers/eventually.js';
import { client, sandbox } from './helpers/per-test-sandbox.js';

const PHONE = '+9996623456';

const instance = (name: string) => ({ extra: { initConnectionOptions: { deviceModel: name, appVersion: '1.0' } } });

/** Instance A logged in; returns it, its session string and its auth key id. */
async function firstInstance(dc: TestSandbox): Promise<{ a: TelegramClient; session: string; keyId: string }> {
  const a = await client(dc, instance('instance-a'));
  const me = await loginSandboxClient(a, dc, PHONE);
  const [key] = dc.controls.authKeysOfUser(me.id);
  return { a, session: await a.exportSession(), keyId: key!.authKeyId };
}

const openConnections = (dc: TestSandbox, keyId: string): number =>
  dc.controls.listSessions().filter((s) => s.authKeyId === keyId).reduce((n, s) => n + s.connections, 0);

describe('the DC as referee', () => {
  it('counts two instances holding one key at once, with the key and both instances', async () => {
    const dc = await sandbox();
    const { a, session, keyId } = await firstInstance(dc);
    const b = await client(dc, instance('instance-b'));
    await b.importSession(session);

    await a.getMe(); // A's connection is open now
    await b.getMe();
    await a.getMe();
    await b.getMe();
    const report = dc.controls.doubleOwnerMoments();
    expect(report.count).toBe(1); // one moment, however many requests it lasts
    expect(report.moments).toEqual([
      { authKeyId: keyId, dcId: 2, instances: ['instance-a (1.0)', 'instance-b (1.0)'], at: expect.any(Number) },
    ]);

    dc.controls.resetDoubleOwnerMoments();
    expect(dc.controls.doubleOwnerMoments()).toEqual({ count: 0, moments: [] });
  });

  it('a hand-over is no moment: the first instance disconnects, then the second connects', async () => {
    const dc = await sandbox();
    const { a, session, keyId } = await firstInstance(dc);
    await a.destroy();
    await eventually(() => openConnections(dc, keyId) === 0, 'the first instance’s connections to close');

    const b = await client(dc, instance('instance-b'));
    await b.importSession(session);
    await b.getMe();
    await b.getMe();
    expect(dc.controls.doubleOwnerMoments()).toEqual({ count: 0, moments: [] });
  });
});
