/**
 * The account API and live events through the real process, sandbox DC over TCP: two accounts in one service
 * talk to each other; SSE, JSON polling and a webhook receiver each get every message, with stable ids, signed;
 * history, dialogs, read marks, peers by `me`, id and @username; Idempotency-Key; scoped tokens; and the
 * single-account routes (/api/telegram = the account `default`).
 */
import { describe, expect, it } from 'vitest';
import { deduped, type Event, sseClient, webhookReceiver } from '../../dev/event-clients.js';
import { eventually, loginThrough, uniquePhone, type Body } from '../helpers/sandbox-service.js';
import { sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';

const sandbox = sandboxPerFile();

/** Two DC users with usernames, each logged in as an account of `svc`. */
async function twoAccounts(svc: ServiceProcess): Promise<{ alice: { id: number; username: string }; bob: { id: number; username: string } }> {
  const dc = sandbox.dc;
  const tag = Math.random().toString(36).slice(2, 8);
  const users = { alice: { phone: uniquePhone(), username: `alice_${tag}` }, bob: { phone: uniquePhone(), username: `bob_${tag}` } };
  for (const [name, u] of Object.entries(users)) {
    dc.controls.createUser({ phone: u.phone, firstName: name, username: u.username });
    expect((await svc.request('POST', '/api/accounts', { id: name })).status).toBe(201);
    expect((await loginThrough(svc, dc, u.phone, undefined, name)).state).toBe('authenticated');
  }
  return {
    alice: { id: dc.controls.getUser(users.alice.phone)!.id, username: users.alice.username },
    bob: { id: dc.controls.getUser(users.bob.phone)!.id, username: users.bob.username },
  };
}

describe('messages and events (real process, sandbox DC over TCP)', () => {
  it('two accounts talk to each other; SSE, polling and a webhook get every message, signed, with stable ids', async () => {
    const svc = await sandbox.service();
    const { alice, bob } = await twoAccounts(svc);
    const secret = 'a-webhook-secret-of-some-length';
    const receiver = await webhookReceiver(secret);
    try {
      // The admin may point a webhook at loopback; delivery starts with the next event.
      const put = await svc.request('PUT', '/api/accounts/bob/webhook', { url: receiver.url, secret });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({ url: receiver.url, setBy: 'admin', backlog: 0, lastError: null });
      expect(JSON.stringify(put.body)).not.toContain(secret);
      const sse = sseClient(`${svc.baseUrl}/api/accounts/bob/events`, svc.token);

      const texts = ['hello bob', 'second', 'third one'];
      const sent: Body[] = [];
      for (const text of texts) {
        const res = await svc.request('POST', '/api/accounts/alice/messages', { peer: `@${bob.username}`, text });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ peer: bob.id, from: alice.id, text, out: true, replyTo: null });
        expect(Date.parse(res.body.date)).toBeGreaterThan(0);
        sent.push(res.body);
      }
      // And one that Bob gets from another user's client (the DC's control), and one sent by id.
      sandbox.dc.controls.deliverMessage(alice.username, bob.username, 'from alice’s phone');
      expect((await svc.request('POST', '/api/accounts/alice/messages', { peer: String(bob.id), text: 'by id', replyTo: sent[0].id })).status).toBe(200);

      const expected = [...texts, 'from alice’s phone', 'by id'];
      const newMessages = (events: Event[]): string[] => events.filter((e) => e.type === 'message.new').map((e) => e.message.text);
      await eventually(() => newMessages(sse.received).length >= 5, 'five messages over SSE');
      await eventually(() => newMessages(receiver.accepted).length >= 5, 'five messages at the webhook');
      expect(newMessages(sse.received)).toEqual(expected);
      expect(newMessages(receiver.accepted)).toEqual(expected);
      expect(receiver.badSignatures).toBe(0);
      // The same event, the same id, everywhere; ids increase.
      expect(receiver.accepted.map((e) => e.id)).toEqual(sse.received.map((e) => e.id));
      const ids = sse.received.map((e) => e.id);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      const first = sse.received[0]!;
      expect(first).toMatchObject({ type: 'message.new', account: 'bob', message: { peer: alice.id, from: alice.id, out: false, text: 'hello bob' } });

      const polled = await svc.request('GET', '/api/accounts/bob/events?after=0&limit=100', undefined, { headers: { accept: 'application/json' } });
      expect(polled.status).toBe(200);
      expect(polled.body.events.map((e: Event) => e.id)).toEqual(ids);
      expect(polled.body).toMatchObject({ lastId: ids.at(-1), nextAfter: ids.at(-1), expired: false });
      // Alice's own sends are her events too (out: true), as a message sent from her phone would be.
      const aliceEvents = await svc.request('GET', '/api/accounts/alice/events', undefined, { headers: { accept: 'application/json' } });
      expect(newMessages(aliceEvents.body.events)).toEqual([...texts, 'from alice’s phone', 'by id']);
      expect(aliceEvents.body.events.every((e: Event) => e.type !== 'message.new' || e.message.out === true)).toBe(true);

      // History, dialogs, read marks.
      const history = await svc.request('GET', `/api/accounts/bob/messages?peer=@${alice.username}&limit=3`);
      expect(history.status).toBe(200);
      expect(history.body.messages.map((m: Body) => m.text)).toEqual(['by id', 'from alice’s phone', 'third one']);
      expect(history.body.messages[0]).toMatchObject({ out: false, from: alice.id, peer: alice.id });
      const older = await svc.request('GET', `/api/accounts/bob/messages?peer=${alice.id}&before=${history.body.nextBefore}`);
      expect(older.body.messages.map((m: Body) => m.text)).toEqual(['second', 'hello bob']);
      const dialogs = await svc.request('GET', '/api/accounts/bob/dialogs?limit=10');
      expect(dialogs.status).toBe(200);
      expect(dialogs.body.dialogs[0]).toMatchObject({ peer: alice.id, username: alice.username, lastMessage: { text: 'by id' } });
      const read = await svc.request('POST', '/api/accounts/bob/messages/read', { peer: `@${alice.username}`, maxId: history.body.messages[0].id });
      expect(read).toMatchObject({ status: 200, body: { peer: alice.id } });
      await eventually(async () => {
        const page = await svc.request('GET', '/api/accounts/alice/events', undefined, { headers: { accept: 'application/json' } });
        return page.body.events.some((e: Event) => e.type === 'message.read' && e.direction === 'outbox' && e.peer === bob.id);
      }, 'the read mark at Alice');

      // Saved Messages.
      const saved = await svc.request('POST', '/api/accounts/bob/messages', { peer: 'me', text: 'note to self' });
      expect(saved.body).toMatchObject({ peer: bob.id, from: bob.id, out: true });
      await eventually(() => sse.received.some((e) => e.type === 'message.new' && e.message.text === 'note to self'), 'the saved message event');

      // The delivery state in the account's status.
      await eventually(async () => (await svc.request('GET', '/api/accounts/bob')).body.webhook?.backlog === 0, 'an empty backlog');
      const status = (await svc.request('GET', '/api/accounts/bob')).body;
      expect(status.webhook).toMatchObject({ url: receiver.url, lastDeliveredId: status.events.lastId, lastError: null, failures: 0 });
      expect(status.events).toMatchObject({ firstId: 1, pending: 0 });
      sse.close();
    } finally {
      await receiver.close();
      expect(await svc.stop()).toBe(0);
    }
  }, 90_000);

  it('unknown peers are 404 PEER_NOT_FOUND; Idempotency-Key sends once and replays; scoped tokens reach their own account; /api/telegram is `default`', async () => {
    const svc = await sandbox.service();
    const { bob } = await twoAccounts(svc);
    try {
      for (const peer of ['@nobody_here_at_all', '999999999', 'not a peer']) {
        const res = await svc.request('POST', '/api/accounts/alice/messages', { peer, text: 'x' });
        expect(res.status, peer).toBe(404);
        expect(res.body.error.code).toBe('PEER_NOT_FOUND');
      }
      expect((await svc.request('GET', '/api/accounts/alice/messages?peer=@nobody_here_at_all')).body.error.code).toBe('PEER_NOT_FOUND');
      expect((await svc.request('POST', '/api/accounts/alice/messages', { peer: 'me' })).status).toBe(400);
      // A numeric id may come as a JSON number too (the same peer as the string); anything else is 400.
      const byNumber = await svc.request('POST', '/api/accounts/alice/messages', { peer: bob.id, text: 'by number' });
      expect(byNumber).toMatchObject({ status: 200, body: { peer: bob.id, text: 'by number' } });
      expect((await svc.request('POST', '/api/accounts/alice/messages/read', { peer: bob.id, maxId: 0 })).status).toBe(200);
      for (const peer of [true, 1.5, null, [], {}, 2 ** 60]) {
        const res = await svc.request('POST', '/api/accounts/alice/messages', { peer, text: 'x' });
        expect(res.status, JSON.stringify(peer)).toBe(400);
        expect(res.body.error, JSON.stringify(peer)).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('peer') });
      }
      expect((await svc.request('POST', '/api/accounts/alice/messages', { peer: 'me', text: 'x'.repeat(4097) })).status).toBe(400);
      expect((await svc.request('GET', '/api/accounts/alice/dialogs?cursor=garbage')).body.error.code).toBe('INVALID_CURSOR');

      const headers = { 'idempotency-key': 'order-42' };
      const first = await svc.request('POST', '/api/accounts/alice/messages', { peer: `@${bob.username}`, text: 'pay once' }, { headers });
      const again = await svc.request('POST', '/api/accounts/alice/messages', { peer: `@${bob.username}`, text: 'pay once' }, { headers });
      expect(first.status).toBe(200);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const other = await svc.request('POST', '/api/accounts/alice/messages', { peer: `@${bob.username}`, text: 'something else' }, { headers });
      expect(other).toMatchObject({ status: 422, body: { error: { code: 'IDEMPOTENCY_KEY_REUSED' } } });
      const bad = await svc.request('POST', '/api/accounts/alice/messages', { peer: 'me', text: 'x' }, { headers: { 'idempotency-key': 'has space' } });
      expect(bad).toMatchObject({ status: 400, body: { error: { code: 'INVALID_IDEMPOTENCY_KEY' } } });
      const history = await svc.request('GET', `/api/accounts/bob/messages?peer=@alice_${bob.username.slice(4)}`);
      expect(history.body.messages.filter((m: Body) => m.text === 'pay once')).toHaveLength(1);

      // A scoped token: its own account's messages and events, nothing of another's.
      const issued = await svc.request('POST', '/api/accounts/bob/tokens', {});
      const token = issued.body.token as string;
      expect((await svc.request('GET', '/api/accounts/bob/events', undefined, { token, headers: { accept: 'application/json' } })).status).toBe(200);
      expect((await svc.request('POST', '/api/accounts/bob/messages', { peer: 'me', text: 'scoped' }, { token })).status).toBe(200);
      expect((await svc.request('GET', '/api/accounts/alice/events', undefined, { token, headers: { accept: 'application/json' } })).status).toBe(404);

      // The single-account routes mean the account `default`.
      const phone = uniquePhone();
      sandbox.dc.controls.createUser({ phone, firstName: 'Single' });
      await loginThrough(svc, sandbox.dc, phone);
      const mine = await svc.request('POST', '/api/telegram/messages', { peer: 'me', text: 'single account' });
      expect(mine.status).toBe(200);
      await eventually(async () => {
        const page = await svc.request('GET', '/api/telegram/events', undefined, { headers: { accept: 'application/json' } });
        return page.body.events.some((e: Event) => e.account === 'default' && e.message?.text === 'single account');
      }, 'the event on /api/telegram/events');
      const byId = await svc.request('GET', '/api/accounts/default/events', undefined, { headers: { accept: 'application/json' } });
      expect(deduped(byId.body.events).length).toBeGreaterThan(0);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  }, 90_000);
});
