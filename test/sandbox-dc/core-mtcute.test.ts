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
