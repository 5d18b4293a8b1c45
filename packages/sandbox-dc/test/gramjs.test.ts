/**
 * GramJS (npm `telegram`, layer 198, RSA_PAD), unmodified, against the sandbox DC over each of its TCP
 * transports — full, abridged, obfuscated: login by code across PHONE_MIGRATE, 2FA (SRP), getMe,
 * sending and reading messages, and a DC restart that needs no new login.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TelegramClient } from 'telegram';
import type { Api } from 'telegram';
import { startTestSandbox, type TestSandbox } from '../src/testing/sandbox.js';
import { gramjsClient, type GramTransport } from './helpers/gramjs.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

/** What the DCs logged that a client should never cause: unsupported methods, answers that could not be written. */
const complaints: string[] = [];
const COMPLAINTS = /not supported|cannot|lacks|failed|threw/;

async function sandbox(): Promise<{ current: TestSandbox }> {
  complaints.length = 0;
  const holder = {
    current: await startTestSandbox({
      log: (level, msg, fields) => {
        if (level !== 'debug' && COMPLAINTS.test(msg)) complaints.push(`${msg} ${JSON.stringify(fields)}`);
      },
    }),
  };
  cleanups.push(() => holder.current.dispose());
  return holder;
}

function client(dc: TestSandbox, transport: GramTransport, saved = ''): TelegramClient {
  const c = gramjsClient(dc, transport, saved);
  cleanups.push(() => c.destroy());
  return c;
}

async function login(c: TelegramClient, dc: TestSandbox, phone: string, password?: string): Promise<void> {
  await c.start({
    phoneNumber: phone,
    phoneCode: async () => dc.controls.lastCode(phone) ?? '',
    password: async () => password ?? '',
    onError: (err) => {
      throw err;
    },
  });
}

describe.each(['full', 'abridged', 'obfuscated'] as const)('GramJS over TCP %s', (transport) => {
  it('logs in by code across PHONE_MIGRATE, gets itself, sends and reads messages', async () => {
    const dc = (await sandbox()).current;
    const peer = dc.controls.createUser({ phone: '+15550002222', firstName: 'Peer', username: 'gram_peer' });
    const c = client(dc, transport);
    // A DC 1 number on a client that starts on DC 2: PHONE_MIGRATE_1, a new key on DC 1, the login there.
    await login(c, dc, '+9996611234');
    expect(c.session.dcId).toBe(1);

    const me = (await c.getMe()) as Api.User;
    expect(me.phone).toBe('9996611234');
    expect(me.self).toBe(true);
    const keys = dc.controls.authKeysOfUser(Number(me.id));
    expect(keys.map((k) => [k.dcId, k.layer])).toEqual([[1, 198]]);

    await c.sendMessage('me', { message: 'note to self' });
    await c.sendMessage('gram_peer', { message: 'hello peer' });
    dc.controls.deliverMessage(peer.id, Number(me.id), 'hello back');
    expect([...(await c.getMessages('me', { limit: 10 }))].map((m) => m.message)).toEqual(['note to self']);
    expect([...(await c.getMessages('gram_peer', { limit: 10 }))].map((m) => m.message)).toEqual(['hello back', 'hello peer']);
    expect(complaints).toEqual([]);
  });

  it('logs in with a 2FA password, and a DC restart needs no new login (same client, then a saved session)', async () => {
    const sb = await sandbox();
    dc2faUser(sb.current);
    const c = client(sb.current, transport);
    await login(c, sb.current, '+15550001111', 'correct horse');
    expect(((await c.getMe()) as Api.User).firstName).toBe('Two');

    sb.current = await sb.current.restart();
    expect(((await c.getMe()) as Api.User).firstName).toBe('Two');
    await c.sendMessage('me', { message: 'after restart' });

    const saved = c.session.save() as unknown as string;
    await c.destroy();
    const resumed = client(sb.current, transport, saved);
    await resumed.connect();
    expect(await resumed.isUserAuthorized()).toBe(true);
    expect([...(await resumed.getMessages('me', { limit: 5 }))].map((m) => m.message)).toEqual(['after restart']);
    expect(sb.current.controls.listAuthKeys().filter((k) => k.phone === '15550001111')).toHaveLength(1);
    expect(complaints).toEqual([]);
  });
});

function dc2faUser(dc: TestSandbox): void {
  dc.controls.createUser({ phone: '+15550001111', firstName: 'Two', password: 'correct horse' });
}
