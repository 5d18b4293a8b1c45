import { afterEach, describe, expect, it } from 'vitest';
import type { TelegramClient } from '@mtcute/node';
import { mtcuteClient, startTestDc, type MtcuteTransportKind, type TestDc } from './core-fixtures.js';

let dc: TestDc | undefined;
let client: TelegramClient | undefined;

afterEach(async () => {
  await client?.destroy();
  client = undefined;
  await dc?.server.close();
  dc = undefined;
});

describe('unmodified mtcute TelegramClient against the DcServer', () => {
  const transports: MtcuteTransportKind[] = ['intermediate', 'padded', 'obfuscated', 'obfuscated-padded'];
  for (const transport of transports) {
    it(`creates a key and runs RPCs over ${transport}`, async () => {
      dc = await startTestDc();
      client = await mtcuteClient(dc, transport);
      const config = await client.call({ _: 'help.getConfig' });
      expect(config._).toBe('config');
      expect(config.thisDc).toBe(2);
      expect(dc.store.keys.size).toBe(1);
      const [key] = dc.store.keys.values();
      expect(key.layer).toBeGreaterThan(200);
      expect(key.client?.apiId).toBe(1);
      const state = await client.call({ _: 'updates.getState' });
      expect(state._).toBe('updates.state');
    });
  }
});

describe('mtcute across connection faults', () => {
  function mainSession(d: TestDc) {
    // The main connection is the one that ran RPCs: its session saw calls.
    const sid = d.rpc.calls.at(-1)!.sessionId;
    return d.server.sessions().find((s) => s.sessionId === sid)!;
  }

  it('dropConnections: reconnects with the same key and the same session', async () => {
    dc = await startTestDc();
    client = await mtcuteClient(dc);
    await client.call({ _: 'help.getConfig' });
    const before = mainSession(dc);
    expect(before.connections).toBe(1);
    dc.server.dropConnections();
    const config = await client.call({ _: 'help.getConfig' });
    expect(config._).toBe('config');
    expect(dc.store.keys.size).toBe(1);
    const after = mainSession(dc);
    expect(after.sessionId).toBe(before.sessionId);
    expect(after.authKeyId).toBe(before.authKeyId);
  });

  it('stopListening / startListening: calls wait for the DC and then succeed on the same port and key', async () => {
    dc = await startTestDc();
    client = await mtcuteClient(dc, 'padded');
    await client.call({ _: 'help.getConfig' });
    const port = dc.server.port;
    await dc.server.stopListening();
    expect(dc.server.sessions().every((s) => s.connections === 0)).toBe(true);
    const pending = client.call({ _: 'help.getConfig' });
    await new Promise((r) => setTimeout(r, 1500));
    await dc.server.startListening();
    expect(dc.server.port).toBe(port);
    expect((await pending)._).toBe('config');
    expect(dc.store.keys.size).toBe(1);
  });

  it('a big answer (gzip_packed) reaches mtcute', async () => {
    dc = await startTestDc();
    client = await mtcuteClient(dc);
    const list = await client.call({ _: 'help.getCountriesList', langCode: 'en', hash: 0 });
    expect(list._).toBe('help.countriesList');
  });

  it('a forgotten key: mtcute gets -404, creates a new key and carries on', async () => {
    dc = await startTestDc();
    client = await mtcuteClient(dc);
    await client.call({ _: 'help.getConfig' });
    const [oldKey] = dc.store.keys.keys();
    dc.server.forgetAuthKey(oldKey);
    dc.store.keys.delete(oldKey);
    dc.server.dropConnections();
    const config = await client.call({ _: 'help.getConfig' });
    expect(config._).toBe('config');
    expect(dc.store.keys.size).toBe(1);
    expect(dc.store.keys.has(oldKey)).toBe(false);
  });
});
