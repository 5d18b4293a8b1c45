/**
 * A fresh client's first request (src/telegram/client-factory.ts) goes out as soon as its key exchange ends.
 * mtcute queues a request made during the exchange and sends the queue when the connection becomes usable
 * only because the client's updates are on (it asks updates.getState then); with them off, the queue waited
 * for a one-second flush timer and the first send-code on a fresh data directory took a second longer. Both
 * clients the service builds — the account's, and a QR login's with raw updates — are held to it, against
 * the sandbox DC over TCP.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { createSessionStore } from '../../src/store/files/account-files.js';
import { createTelegramClient } from '../../src/telegram/client-factory.js';
import { callTelegram } from '../../src/telegram/rpc.js';
import { tempDir, testConfig } from './account.harness.js';

/** Below mtcute's one-second flush timer (then ≥ 1 s), with room for a loaded machine (an answer takes a few ms). */
const ANSWERED_AFTER_KEY_MS = 800;

let dc: TestSandbox;
beforeAll(async () => {
  dc = await startTestSandbox();
});
afterAll(async () => {
  await dc?.dispose();
});

describe("a fresh client's first request", () => {
  it.each([
    ['the account client (updates loop)', false, '+9996620101'],
    ['a QR login client (raw updates)', true, '+9996620102'],
  ])('is answered right after the key exchange: %s', async (_name, rawUpdates, phone) => {
    const dataDir = tempDir('first-request');
    const log = pino({ level: 'silent' });
    const store = createSessionStore({ dataDir, environment: 'sandbox', log });
    await store.load();
    let keyStoredAt: number | undefined;
    const config = testConfig(dataDir);
    const client = await createTelegramClient({
      config,
      storage: async (primaryDcs) => {
        const storage = await store.createStorage({ primaryDcs });
        const set = storage.authKeys.set.bind(storage.authKeys);
        storage.authKeys.set = (dcId, key) => {
          keyStoredAt ??= performance.now();
          return set(dcId, key);
        };
        return storage;
      },
      logger: log,
      sandbox: { dcs: dc.dcs, publicKeyPem: dc.publicKeyPem },
      rawUpdates,
    });
    try {
      const request = {
        _: 'auth.sendCode',
        phoneNumber: phone.slice(1),
        apiId: config.telegram.apiId,
        apiHash: config.telegram.apiHash,
        settings: { _: 'codeSettings' },
      } as const;
      const sent = await callTelegram(client, request, { timeoutMs: 10_000 });
      const answeredAt = performance.now();
      expect(sent._).toBe('auth.sentCode');
      expect(keyStoredAt).toBeDefined();
      expect(answeredAt - keyStoredAt!).toBeLessThan(ANSWERED_AFTER_KEY_MS);
    } finally {
      await client.destroy();
      await store.close();
    }
  }, 30_000);
});
