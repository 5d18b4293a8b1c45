/**
 * POST /messages never sends twice what it was asked once (the real process, sandbox DC over TCP; the
 * recipient's own mtcute client reads the chat):
 * - the same request with an Idempotency-Key retried across a kill -9 that hit while Telegram had the message
 *   but had not answered: one message, and the retry answers it;
 * - a send Telegram is slow to answer: 503 SEND_OUTCOME_UNKNOWN, and the retry with the key finds the message
 *   instead of sending it again;
 * - the known double-send path: a request of a client that has not connected yet (restored while the DC is
 *   down) times out, and mtcute still sends it when the connection comes back — pinned below with the
 *   service's own client, and guarded in the service by destroying the client with the request (the last
 *   case shows both outcomes); through the process, the answer is 503 SEND_OUTCOME_UNKNOWN and the message is
 *   never sent later.
 */
import { MemoryStorage, type TelegramClient } from '@mtcute/node';
import { randomLong } from '@mtcute/core/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginSandboxClient, sandboxClient, startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import pino from 'pino';
import { createTelegramClient } from '../../src/telegram/client-factory.js';
import { callTelegram } from '../../src/telegram/rpc.js';
import { eventually, loginThrough, sleep, uniquePhone } from '../helpers/sandbox-service.js';
import { startService, TEST_ENV, type ServiceProcess } from '../helpers/service-process.js';
import { recordTotals } from './totals.js';

let dc: TestSandbox;
let recipient: TelegramClient;
const RECIPIENT = '+9996624321';
beforeAll(async () => {
  dc = await startTestSandbox();
  recipient = await sandboxClient(dc);
  await loginSandboxClient(recipient, dc, RECIPIENT);
});
afterAll(async () => {
  await recipient?.destroy();
  await dc?.dispose();
});

/** What the recipient's chat with `senderId` holds with this text. */
async function copies(senderId: number, text: string): Promise<number> {
  const history = await recipient.getHistory(await recipient.resolvePeer(senderId), { limit: 100 });
  return history.filter((m) => m.text === text).length;
}

async function senderAccount(env: Record<string, string> = {}): Promise<{ svc: ServiceProcess; senderId: number; dataDir?: string }> {
  const svc = await startService({ dc, env: { ...TEST_ENV, ...env } });
  const phone = uniquePhone('1556');
  dc.controls.createUser({ phone, firstName: 'Sender' });
  await loginThrough(svc, dc, phone);
  return { svc, senderId: dc.controls.getUser(phone)!.id };
}

const recipientPeer = (): string => String(dc.controls.getUser(RECIPIENT)!.id);

describe('a message is sent once', () => {
  it('the same POST with an Idempotency-Key, retried across a kill -9 while Telegram had not answered, sends one message', async () => {
    const { svc: first, senderId } = await senderAccount();
    const text = `across a kill ${Date.now()}`;
    const body = { peer: recipientPeer(), text };
    const headers = { 'idempotency-key': 'kill-9-order-1' };
    dc.controls.setAnswerDelay(4_000); // the DC stores the message at once and answers 4 s later
    const lost = first.request('POST', '/api/telegram/messages', body, { headers }).catch(() => undefined);
    await eventually(async () => ((await copies(senderId, text)) === 1 ? true : undefined), 'the message at the DC', 10_000);
    await first.kill9();
    await lost;
    dc.controls.setAnswerDelay(0);

    const second = await startService({ dc, dataDir: first.dataDir, env: { ...TEST_ENV, API_TOKEN: first.token } });
    try {
      const retried = await second.request('POST', '/api/telegram/messages', body, { headers });
      expect(retried.status).toBe(200);
      expect(retried.body).toMatchObject({ text, out: true });
      const again = await second.request('POST', '/api/telegram/messages', body, { headers });
      expect(again.body).toEqual(retried.body);
      expect(again.headers['idempotent-replayed']).toBe('true');
      await sleep(500);
      expect(await copies(senderId, text)).toBe(1);
      recordTotals('send once (kill -9)', { casesTried: 1, kills: 1, httpRequests: 3 });
    } finally {
      dc.controls.setAnswerDelay(0);
      expect(await second.stop()).toBe(0);
    }
  }, 60_000);

  it('a send Telegram does not answer in time is 503 SEND_OUTCOME_UNKNOWN; the retry with the key finds it instead of sending again', async () => {
    const { svc, senderId } = await senderAccount({ CLIENT_READY_TIMEOUT: '1500' });
    try {
      const text = `slow answer ${Date.now()}`;
      const headers = { 'idempotency-key': 'slow-1' };
      // The chat is known (a first request), so the send itself is what waits for the slow answer.
      expect((await svc.request('GET', `/api/telegram/messages?peer=${recipientPeer()}&limit=1`)).status).toBe(200);
      dc.controls.setAnswerDelay(3_000);
      const first = await svc.request('POST', '/api/telegram/messages', { peer: recipientPeer(), text }, { headers });
      expect(first.status).toBe(503);
      expect(first.body.error.code).toBe('SEND_OUTCOME_UNKNOWN');
      dc.controls.setAnswerDelay(0);
      const retried = await eventually(async () => {
        const res = await svc.request('POST', '/api/telegram/messages', { peer: recipientPeer(), text }, { headers });
        return res.status === 200 ? res : undefined;
      }, 'the retry to answer', 20_000);
      expect(retried.body).toMatchObject({ text, out: true });
      expect(await copies(senderId, text)).toBe(1);
    } finally {
      dc.controls.setAnswerDelay(0);
      expect(await svc.stop()).toBe(0);
    }
  }, 60_000);

  it('a send made while the DC is down answers 503 SEND_OUTCOME_UNKNOWN and is never sent when it comes back', async () => {
    const { svc: first, senderId } = await senderAccount();
    expect(await first.stop()).toBe(0);
    await dc.controls.stopListening();
    // Restored while the DC is away: its client has never connected.
    const svc = await startService({ dc, dataDir: first.dataDir, env: { ...TEST_ENV, API_TOKEN: first.token, CLIENT_READY_TIMEOUT: '1500' } });
    // Saved Messages: no peer to look up first, so the send itself is what waits for the connection.
    const saved = async (text: string): Promise<number> => {
      const history = await svc.request('GET', '/api/telegram/messages?peer=me&limit=100');
      return history.body.messages.filter((m: { text: string }) => m.text === text).length;
    };
    try {
      const text = `while the DC is down ${Date.now()}`;
      const res = await svc.request('POST', '/api/telegram/messages', { peer: 'me', text });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('SEND_OUTCOME_UNKNOWN');
      await dc.controls.startListening();
      await eventually(async () => ((await svc.request('GET', '/api/telegram/status')).body.session.validation === 'valid' ? true : undefined), 'the session back', 20_000);
      await sleep(3_000); // what mtcute would have sent on reconnecting has arrived by now
      expect(await saved(text)).toBe(0);
      // Sent once the caller asks again.
      expect((await svc.request('POST', '/api/telegram/messages', { peer: 'me', text })).status).toBe(200);
      expect(await saved(text)).toBe(1);
      expect(senderId).toBeGreaterThan(0);
    } finally {
      await dc.controls.startListening();
      expect(await svc.stop()).toBe(0);
    }
  }, 60_000);

  it('(the hazard the service guards against) mtcute still sends a timed-out request of a client that had not connected, unless the client is destroyed', async () => {
    const sent: Record<string, number> = {};
    for (const destroy of [false, true]) {
      const phone = destroy ? '+9996624401' : '+9996624402';
      const storage = new MemoryStorage();
      // The service's own client (its factory, its options), on a storage that outlives it.
      const serviceClient = (): Promise<TelegramClient> =>
        createTelegramClient({
          config: { environment: 'sandbox', telegram: { apiId: 1, apiHash: '0'.repeat(32) }, sandbox: { port: 0 }, retryMaxDelayMs: 500 },
          storage: () => Promise.resolve(storage),
          logger: pino({ level: 'silent' }),
          sandbox: { dcs: dc.dcs, publicKeyPem: dc.publicKeyPem },
        });
      const first = await serviceClient();
      await loginSandboxClient(first, dc, phone);
      const peer = await first.resolvePeer(dc.controls.getUser(RECIPIENT)!.id);
      const senderId = (await first.getMe()).id;
      await first.destroy();
      await dc.controls.stopListening();
      const sender = await serviceClient(); // restored while the DC is away: it has never connected
      const text = `hazard ${destroy ? 'destroyed' : 'kept'} ${Date.now()}`;
      const outcome = await callTelegram(sender, { _: 'messages.sendMessage', peer, message: text, randomId: randomLong() }, { timeoutMs: 1500 }).catch(
        (err: Error) => err.message,
      );
      expect(outcome).toContain('TIMEOUT');
      if (destroy) await sender.destroy();
      await dc.controls.startListening();
      // The kept client resends once it reconnects (its backoff may take a while on a loaded machine: up to
      // 20 s); the destroyed one is given 5 s to do what it must not.
      const until = Date.now() + (destroy ? 5_000 : 20_000);
      let count = 0;
      while (Date.now() < until && count === 0) {
        await sleep(250);
        count = await copies(senderId, text);
      }
      sent[destroy ? 'destroyed' : 'kept'] = count;
      if (!destroy) await sender.destroy();
    }
    expect(sent).toEqual({ kept: 1, destroyed: 0 });
  }, 60_000);
});
