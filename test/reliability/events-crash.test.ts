/**
 * Issue 12's proof that no message is lost or doubled, through the real process and the sandbox DC over TCP:
 * a steady stream of messages to one account — from two other users at the DC (deliverMessage) and from a
 * second account of the same service (POST /messages with an Idempotency-Key, retried until it answers) —
 * while the service is killed -9 at random moments (and once stopped with SIGTERM), the DC goes away and comes
 * back, and the webhook receiver goes down and comes back. Afterwards every message is in the journal once,
 * and the webhook receiver and an SSE client (reconnecting with Last-Event-ID) each have every message exactly
 * once after dropping repeated ids, in order per chat. Counts go to the reliability totals.
 *
 * Size: `npm test` — 5 kills, 3 DC outages, 3 receiver outages over ~30 s of traffic; SOAK=1 — 30, 12, 12.
 * EVENTS_SEED=<n> repeats a run's choices.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { deduped, type Event, sseClient, webhookReceiver } from '../../dev/event-clients.js';
import { freePort, startService, TEST_ENV, type ServiceProcess } from '../helpers/service-process.js';
import { loginThrough, seededRandom, sleep, uniquePhone } from '../helpers/sandbox-service.js';
import { recordTotals, size, SOAK } from './totals.js';

const KILLS = size(5, 30);
const DC_OUTAGES = size(3, 12);
const RECEIVER_OUTAGES = size(3, 12);
const SEED = Number(process.env.EVENTS_SEED ?? Date.now() % 1_000_000);
/** The DC stream's pace: one message every this many ms. */
const DC_STREAM_EVERY_MS = 60;

let dc: TestSandbox;
let root: string;
beforeAll(async () => {
  dc = await startTestSandbox();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'events-crash-'));
});
afterAll(async () => {
  await dc?.dispose();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('no message lost or doubled across kill -9, DC outages and receiver outages', () => {
  it(`${KILLS} kills, ${DC_OUTAGES} DC outages, ${RECEIVER_OUTAGES} receiver outages, 1 SIGTERM: every message journaled and delivered once, in order per chat`, async () => {
    const random = seededRandom(SEED);
    const dataDir = path.join(root, 'data');
    const env = {
      ...TEST_ENV,
      API_TOKEN: randomBytes(24).toString('hex'),
      PORT: String(await freePort()),
      CLIENT_READY_TIMEOUT: '3s',
      WEBHOOK_RETRY_MAX: '1s',
      HEALTH_PROBE_INTERVAL: '2s',
    };
    const start = (): Promise<ServiceProcess> => startService({ dc, dataDir, env });
    let svc = await start();
    const tag = randomBytes(3).toString('hex');
    const phones = { rx: uniquePhone('1558'), tx: uniquePhone('1558'), s1: uniquePhone('1558'), s2: uniquePhone('1558') };
    for (const [name, phone] of Object.entries(phones)) dc.controls.createUser({ phone, firstName: name, username: `${name}_${tag}` });
    for (const account of ['rx', 'tx'] as const) {
      expect((await svc.request('POST', '/api/accounts', { id: account })).status).toBe(201);
      expect((await loginThrough(svc, dc, phones[account], undefined, account)).state).toBe('authenticated');
    }
    const secret = randomBytes(16).toString('hex');
    const receiver = await webhookReceiver(secret);
    expect((await svc.request('PUT', '/api/accounts/rx/webhook', { url: receiver.url, secret })).status).toBe(200);
    const sse = sseClient(`http://127.0.0.1:${env.PORT}/api/accounts/rx/events`, env.API_TOKEN);

    // ── the traffic ──
    const sent = new Map<string, string[]>(); // chat → texts in the order sent
    const note = (chat: string, text: string): void => void (sent.get(chat) ?? sent.set(chat, []).get(chat)!).push(text);
    let streaming = true;
    let httpRequests = 0;
    const dcStream = (async () => {
      for (let seq = 0; streaming; seq++) {
        const from = seq % 2 === 0 ? 's1' : 's2';
        const text = `d:${from}:${seq}`;
        dc.controls.deliverMessage(phones[from], phones.rx, text);
        note(from, text);
        await sleep(DC_STREAM_EVERY_MS);
      }
    })();
    const postStream = (async () => {
      for (let seq = 0; streaming; seq++) {
        const text = `p:${seq}`;
        // Retried with the same key until the service answers, whatever happens in between: sent once.
        for (;;) {
          httpRequests++;
          const res = await svc
            .request('POST', '/api/accounts/tx/messages', { peer: `@rx_${tag}`, text }, { headers: { 'idempotency-key': `k-${seq}` } })
            .catch(() => undefined);
          if (res?.status === 200) break;
          if (res && res.status !== 503 && res.status !== 401) throw new Error(`POST /messages answered ${res.status}: ${JSON.stringify(res.body)}`);
          await sleep(150);
        }
        note('tx', text);
        await sleep(100);
      }
    })();

    // ── the faults ──
    const actions = [
      ...Array<string>(KILLS).fill('kill'),
      ...Array<string>(DC_OUTAGES).fill('dc'),
      ...Array<string>(RECEIVER_OUTAGES).fill('receiver'),
      'sigterm',
    ].sort(() => random() - 0.5);
    const between = (lo: number, hi: number): number => lo + random() * (hi - lo);
    let kills = 0;
    for (const action of actions) {
      await sleep(between(800, 2500));
      switch (action) {
        case 'kill':
          await svc.kill9();
          kills++;
          await sleep(between(100, 1500));
          svc = await start();
          break;
        case 'sigterm':
          expect(await svc.stop()).toBe(0);
          await sleep(between(100, 1000));
          svc = await start();
          break;
        case 'dc':
          await dc.controls.stopListening();
          await sleep(between(800, 2500));
          await dc.controls.startListening();
          break;
        case 'receiver':
          await receiver.down();
          await sleep(between(800, 2500));
          await receiver.up();
          break;
      }
    }
    streaming = false;
    await Promise.all([dcStream, postStream]);

    // ── afterwards: everything arrives ──
    const expectedTexts = [...sent.values()].flat();
    const journal = async (account: string): Promise<Event[]> => {
      const all: Event[] = [];
      for (let after = 0; ; ) {
        const page = await svc.request('GET', `/api/accounts/${account}/events?after=${after}&limit=1000`, undefined, { headers: { accept: 'application/json' } });
        httpRequests++;
        all.push(...page.body.events);
        if (page.body.events.length === 0) return all;
        after = page.body.nextAfter;
      }
    };
    const incoming = (events: Event[]): Event[] => events.filter((e) => e.type === 'message.new' && !e.message.out);
    const deadline = Date.now() + 60_000;
    let rxJournal: Event[] = [];
    for (;;) {
      rxJournal = await journal('rx');
      const have = (events: Event[]): Set<string> => new Set(incoming(deduped(events)).map((e) => e.message.text));
      const done = [have(rxJournal), have(receiver.accepted), have(sse.received)].every((set) => expectedTexts.every((t) => set.has(t)));
      if (done || Date.now() > deadline) break;
      await sleep(250);
    }
    sse.close();

    // ── the counts ──
    const problems: string[] = [];
    const check = (where: string, events: Event[]): { delivered: number; lost: number; duplicated: number } => {
      const byText = new Map<string, Set<number>>();
      for (const e of incoming(events)) (byText.get(e.message.text) ?? byText.set(e.message.text, new Set()).get(e.message.text)!).add(e.id);
      const lost = expectedTexts.filter((t) => !byText.has(t));
      const duplicated = [...byText].filter(([, ids]) => ids.size > 1).map(([t]) => t);
      if (lost.length) problems.push(`${where}: lost ${lost.length} (${lost.slice(0, 5).join(', ')})`);
      if (duplicated.length) problems.push(`${where}: ${duplicated.length} messages under two ids (${duplicated.slice(0, 5).join(', ')})`);
      // In order per chat: each chat's texts appear in the order they were sent.
      for (const [chat, texts] of sent) {
        const order = incoming(deduped(events)).map((e) => e.message.text as string).filter((t) => texts.includes(t));
        const rank = new Map(texts.map((t, i) => [t, i]));
        if (order.some((t, i) => i > 0 && rank.get(t)! < rank.get(order[i - 1]!)!)) problems.push(`${where}: chat ${chat} out of order`);
      }
      return { delivered: byText.size, lost: lost.length, duplicated: duplicated.length };
    };
    const inJournal = check('journal', rxJournal);
    const atWebhook = check('webhook', deduped(receiver.accepted));
    const overSse = check('SSE', deduped(sse.received));
    // The sender's own journal: each POSTed message once (an Idempotency-Key retry never sent it twice).
    const txOwn = (await journal('tx')).filter((e) => e.type === 'message.new' && e.message.out);
    const txTexts = txOwn.map((e) => e.message.text as string);
    if (new Set(txTexts).size !== txTexts.length) problems.push('tx: a POSTed message journaled twice');
    const rxHistory = await svc.request('GET', `/api/accounts/rx/messages?peer=@tx_${tag}&limit=100`);
    const historyTexts = rxHistory.body.messages.map((m: { text: string }) => m.text);
    if (new Set(historyTexts).size !== historyTexts.length) problems.push('rx history: a POSTed message sent twice');

    const lost = Math.max(inJournal.lost, atWebhook.lost, overSse.lost);
    const duplicated = Math.max(inJournal.duplicated, atWebhook.duplicated, overSse.duplicated);
    const summary =
      `events harness (seed ${SEED}${SOAK ? ', soak' : ''}): sent ${expectedTexts.length} (${sent.get('tx')?.length ?? 0} by POST), ` +
      `journaled ${inJournal.delivered}, webhook ${atWebhook.delivered} (${receiver.accepted.length} deliveries), ` +
      `SSE ${overSse.delivered} (${sse.connections} connections), lost ${lost}, duplicated after dedupe ${duplicated}; ` +
      `${kills} kills, ${DC_OUTAGES} DC outages, ${RECEIVER_OUTAGES} receiver outages, 1 SIGTERM`;
    console.log(summary);
    recordTotals('events (kill -9, outages)', {
      casesTried: actions.length,
      kills,
      faultsInjected: DC_OUTAGES + RECEIVER_OUTAGES,
      httpRequests,
      messagesSent: expectedTexts.length,
      eventsJournaled: inJournal.delivered,
      eventsDelivered: Math.min(atWebhook.delivered, overSse.delivered),
      eventsLost: lost,
      eventsDuplicated: duplicated,
    });
    try {
      expect(problems).toEqual([]);
      expect(receiver.badSignatures).toBe(0);
      expect(kills).toBe(KILLS);
      const status = await svc.request('GET', '/api/accounts/rx');
      expect(status.body.webhook).toMatchObject({ backlog: 0, lastError: null });
      expect(status.body.events.pending).toBe(0);
    } finally {
      await receiver.close();
      expect(await svc.stop()).toBe(0);
    }
  }, 300_000);
});
