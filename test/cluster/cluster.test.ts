/**
 * A cluster through the real processes: two (then three) instances on one PostgreSQL and one sandbox DC.
 * Any instance answers for any account (forwarded to its owner with the client's own token), accounts
 * spread over the instances, a graceful stop hands its accounts over at once, kill -9 is failed over
 * without a new login, and a third instance joining takes its share. Across the kill -9: messages to an
 * account of the killed owner reach an SSE stream served by the other instance and a webhook, each exactly
 * once by id, and an account logged out on the killed owner logs in again on the survivor without a code
 * (its future auth tokens were in PostgreSQL).
 */
import { describe, expect, it } from 'vitest';
import { deduped, sseClient, webhookReceiver, type Event } from '../../dev/event-clients.js';
import { clusterPerFile, holders, type ClusterInstance } from '../helpers/cluster.js';
import { eventually, sleep, uniquePhone, waitForStatus, type Body } from '../helpers/sandbox-service.js';

const cluster = clusterPerFile();
const ACCOUNTS = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8'];

async function loginVia(instance: ClusterInstance, id: string, phone: string): Promise<Body> {
  const sent = await instance.svc.request('POST', `/api/accounts/${id}/auth/send-code`, { phone });
  expect(sent.status, JSON.stringify(sent.body)).toBe(200);
  const done = await instance.svc.request('POST', `/api/accounts/${id}/auth/verify-code`, { code: cluster.dc.controls.lastCode(phone) });
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  return done.body;
}

const valid = (body: Body): boolean => body.state === 'authenticated' && body.session.validation === 'valid' && body.session.connection === 'online';

describe('cluster: any instance answers, accounts spread, hand-over and failover keep every login', () => {
  it('serves every account from every instance and fails over without a new login', async () => {
    const a = await cluster.start('inst-a');
    const b = await cluster.start('inst-b');
    const instances = [a, b];
    const phones = new Map<string, string>();
    for (const [i, id] of ACCOUNTS.entries()) {
      const created = await instances[i % 2]!.svc.request('POST', '/api/accounts', { id });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({ id, state: 'logged_out' });
    }
    // Logged in through the instance that did NOT necessarily take it: forwarded with the same token.
    for (const [i, id] of ACCOUNTS.entries()) {
      const phone = uniquePhone('1558');
      phones.set(id, phone);
      cluster.dc.controls.createUser({ phone });
      const answer = await loginVia(instances[(i + 1) % 2]!, id, phone);
      expect(answer.state).toBe('authenticated');
    }
    for (const instance of instances) {
      for (const id of ACCOUNTS) await waitForStatus(instance.svc, valid, `${id} valid via ${instance.name}`, { account: id, timeoutMs: 15_000 });
    }
    const pool = cluster.pool();
    let owners = await holders(pool);
    const perInstance = (name: string): number => [...owners.values()].filter((n) => n === name).length;
    expect(perInstance('inst-a') + perInstance('inst-b')).toBe(ACCOUNTS.length);
    expect(perInstance('inst-a')).toBeGreaterThan(0);
    expect(perInstance('inst-b')).toBeGreaterThan(0);

    // A scoped token works through either instance, for its account only.
    const issued = await a.svc.request('POST', '/api/accounts/a1/tokens', {});
    expect(issued.status).toBe(201);
    for (const instance of instances) {
      expect((await instance.svc.request('GET', '/api/accounts/a1/status', undefined, { token: issued.body.token })).status).toBe(200);
      expect((await instance.svc.request('GET', '/api/accounts/a2/status', undefined, { token: issued.body.token })).status).toBe(404);
    }
    // The list is complete from any instance.
    const listed = await b.svc.request('GET', '/api/accounts?limit=100');
    expect(listed.body.accounts.map((s: Body) => s.id)).toEqual(ACCOUNTS);

    // A third instance joins and takes its share; nobody logs in again.
    const keysBefore = cluster.dc.controls.listAuthKeys().length;
    const c = await cluster.start('inst-c');
    await waitUntil(async () => (await holders(pool)).size === ACCOUNTS.length && [...(await holders(pool)).values()].includes('inst-c'), 15_000);
    for (const id of ACCOUNTS) await waitForStatus(c.svc, valid, `${id} valid after the join`, { account: id, timeoutMs: 15_000 });

    // Graceful stop of one: its accounts are live elsewhere at once (no lease to wait out).
    owners = await holders(pool);
    const ofC = [...owners].filter(([, n]) => n === 'inst-c').map(([id]) => id);
    const stoppedAt = Date.now();
    expect(await c.svc.stop()).toBe(0);
    for (const id of ofC) await waitForStatus(a.svc, valid, `${id} valid after the hand-over`, { account: id, timeoutMs: 10_000 });
    const handOverMs = Date.now() - stoppedAt;
    expect(cluster.dc.controls.listAuthKeys().length).toBe(keysBefore); // joins and hand-overs: no new login

    // kill -9 of the instance holding more accounts, while messages reach one of its accounts (rx) and a
    // second one (ft) is logged out with its future auth tokens in PostgreSQL only.
    owners = await holders(pool);
    const held = (instance: ClusterInstance): string[] => ACCOUNTS.filter((id) => owners.get(id) === instance.name);
    const victim = held(a).length >= held(b).length ? a : b;
    const survivor = victim === b ? a : b;
    const [rx, ft] = held(victim) as [string, string];
    expect(ft).toBeDefined();
    expect((await survivor.svc.request('POST', `/api/accounts/${ft}/auth/logout`)).body.state).toBe('logged_out');
    expect((await pool.query('SELECT future_auth_tokens FROM tgs_accounts WHERE id = $1', [ft])).rows[0].future_auth_tokens).not.toBeNull();

    // An account the victim takes, logged in there just before it dies (before a heartbeat could publish
    // its status): while nobody holds it, the survivor answers from what is stored — never a stale state.
    let late: string | undefined;
    for (let n = 0; n < 30 && !late; n++) {
      const id = `late${n}`;
      expect((await survivor.svc.request('POST', '/api/accounts', { id })).status).toBe(201);
      await eventually(async () => (await holders(pool)).has(id), `${id} taken`);
      if ((await holders(pool)).get(id) === victim.name) late = id;
    }
    expect(late, 'an account the victim holds').toBeDefined();
    const latePhone = uniquePhone('1558');
    cluster.dc.controls.createUser({ phone: latePhone });

    const secret = 'cluster-webhook-secret-0123456789';
    const receiver = await webhookReceiver(secret);
    const sender = uniquePhone('1558');
    cluster.dc.controls.createUser({ phone: sender });
    // Set through the survivor (forwarded to the owner); the stream is served by the survivor from the database.
    expect((await survivor.svc.request('PUT', `/api/accounts/${rx}/webhook`, { url: receiver.url, secret })).status).toBe(200);
    const sse = sseClient(`${survivor.svc.baseUrl}/api/accounts/${rx}/events`, survivor.svc.token);
    const texts: string[] = [];
    const send = (n: number, phase: string): void => {
      for (let i = 0; i < n; i++) {
        const text = `${phase} ${i}`;
        cluster.dc.controls.deliverMessage(sender, phones.get(rx)!, text);
        texts.push(text);
      }
    };
    const received = (events: Event[]): string[] => deduped(events).filter((e) => e.type === 'message.new').map((e) => e.message.text);
    try {
      send(3, 'before');
      await eventually(() => received(sse.received).length === 3, 'the first messages over SSE from the non-owner');
      // Polling and the webhook routes work through the non-owner too (the webhook's state is the owner's).
      const early = await survivor.svc.request('GET', `/api/accounts/${rx}/events?after=0`, undefined, { headers: { accept: 'application/json' } });
      expect(early.body.events.map((e: Event) => e.id)).toEqual(sse.received.map((e) => e.id));
      await eventually(async () => (await survivor.svc.request('GET', `/api/accounts/${rx}/webhook`)).body.lastDeliveredId === early.body.lastId, 'the webhook state through the non-owner');
      expect((await loginVia(victim, late!, latePhone)).state).toBe('authenticated');
      const keysAtKill = cluster.dc.controls.listAuthKeys().length;
      const killedAt = Date.now();
      await victim.svc.kill9();
      const lateStates = new Set<string>();
      const odd: Body[] = [];
      await eventually(async () => {
        const status = (await survivor.svc.request('GET', `/api/accounts/${late}/status`)).body;
        lateStates.add(status.state);
        if (status.state !== 'authenticated') odd.push(status);
        return valid(status);
      }, `${late} valid on the survivor`);
      expect([...lateStates], JSON.stringify(odd.slice(0, 3))).toEqual(['authenticated']);
      send(4, 'while nobody holds it');
      for (const id of ACCOUNTS.filter((id) => id !== ft)) {
        await waitForStatus(survivor.svc, valid, `${id} valid after kill -9`, { account: id, timeoutMs: 10_000 });
      }
      const failoverMs = Date.now() - killedAt;
      send(2, 'after');
      await eventually(() => received(sse.received).length === texts.length && received(receiver.accepted).length === texts.length, 'every message over SSE and at the webhook');
      await sleep(500); // anything more would be a duplicate
      // SSE from the non-owner: one stream throughout, every message once by id, in order.
      const ids = sse.received.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort((x, y) => x - y)).toEqual(ids);
      expect(received(sse.received)).toEqual(texts);
      expect(sse.connections).toBe(1);
      // The webhook moved with the account: every event once after dropping repeated ids, same ids.
      expect(received(receiver.accepted)).toEqual(texts);
      expect(deduped(receiver.accepted).map((e) => e.id)).toEqual(ids);
      expect(receiver.badSignatures).toBe(0);
      const polled = await survivor.svc.request('GET', `/api/accounts/${rx}/events?after=0`, undefined, { headers: { accept: 'application/json' } });
      expect(polled.body.events.map((e: Event) => e.id)).toEqual(ids);
      owners = await holders(pool);
      expect([...owners.values()].every((n) => n === survivor.name)).toBe(true);
      expect(cluster.dc.controls.listAuthKeys().length).toBe(keysAtKill); // no new key: no new login
      console.log(`cluster: graceful hand-over ${handOverMs} ms, kill -9 failover ${failoverMs} ms (${ACCOUNTS.length} accounts); ${texts.length} messages, SSE from the non-owner, webhook repeats ${receiver.accepted.length - texts.length}`);
    } finally {
      sse.close();
      await receiver.close();
    }
    // The tokens the former owner kept in PostgreSQL log ft in again on the survivor, without a code.
    const codeBefore = cluster.dc.controls.lastCode(phones.get(ft)!);
    const again = await survivor.svc.request('POST', `/api/accounts/${ft}/auth/send-code`, { phone: phones.get(ft) });
    expect(again.body, JSON.stringify(again.body)).toMatchObject({ state: 'authenticated', loginMethod: 'future_auth_token' });
    expect(cluster.dc.controls.lastCode(phones.get(ft)!)).toBe(codeBefore);
    for (const id of ACCOUNTS) {
      const me = await survivor.svc.request('GET', `/api/accounts/${id}/me`);
      expect(me.status).toBe(200);
      expect(me.body.phone).toBe(phones.get(id));
    }
    // Deleting an account through any instance logs it out at its owner and removes it everywhere.
    const deleted = await survivor.svc.request('DELETE', '/api/accounts/a8');
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(204);
    expect((await survivor.svc.request('GET', '/api/accounts/a8/status')).status).toBe(404);
    expect((await pool.query("SELECT 1 FROM tgs_accounts WHERE id = 'a8'")).rowCount).toBe(0);
  }, 120_000);
});

async function waitUntil(ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
