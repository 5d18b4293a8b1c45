/**
 * src/telegram/pong-watch.ts against the sandbox DC over TCP: unmodified mtcute clients pinging every 300 ms
 * (plus mtcute's own random 0–5 s per connection);
 * each watcher hears the pongs of the connections made with its own transport and no others. If an mtcute
 * update changes what is hooked, watchPongs() throws or no pong is heard.
 */
import { TcpTransport, type TelegramClient } from '@mtcute/node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loginSandboxClient, sandboxClient, startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { watchPongs } from '../../src/telegram/pong-watch.js';

let dc: TestSandbox;
beforeAll(async () => {
  dc = await startTestSandbox();
});
afterAll(async () => {
  await dc?.dispose();
});

async function pingingClient(phone: string, onPong: () => void): Promise<TelegramClient> {
  const transport = new TcpTransport(); // what the service gives its clients (client-factory.ts)
  watchPongs(transport, onPong);
  const client = await sandboxClient(dc, { extra: { transport, network: { pingInterval: 300 } } });
  await loginSandboxClient(client, dc, phone);
  return client;
}

describe('pong watch', () => {
  it("tells each client's owner of the pongs on that client's connections, and no one else", async () => {
    const pongs = { a: 0, b: 0 };
    const a = await pingingClient('+9996620011', () => pongs.a++);
    const b = await pingingClient('+9996620012', () => pongs.b++);
    try {
      await vi.waitFor(() => expect(Math.min(pongs.a, pongs.b)).toBeGreaterThanOrEqual(1), { timeout: 15_000, interval: 100 });
      await a.destroy();
      const aAfter = pongs.a;
      const bBefore = pongs.b;
      await vi.waitFor(() => expect(pongs.b).toBeGreaterThanOrEqual(bBefore + 2), { timeout: 15_000, interval: 100 });
      expect(pongs.a).toBe(aAfter); // a's connections are gone: b's pongs are not counted as a's
    } finally {
      await a.destroy();
      await b.destroy();
    }
  }, 60_000);
});
