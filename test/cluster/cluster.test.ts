/**
 * A cluster through the real processes: two (then three) instances on one PostgreSQL and one sandbox DC.
 * Any instance answers for any account (forwarded to its owner with the client's own token), accounts
 * spread over the instances, a graceful stop hands its accounts over at once, kill -9 is failed over
 * without a new login, and a third instance joining takes its share.
 */
import { describe, expect, it } from 'vitest';
import { clusterPerFile, holders, type ClusterInstance } from '../helpers/cluster.js';
import { uniquePhone, waitForStatus, type Body } from '../helpers/sandbox-service.js';

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

    // kill -9 of another: within 10 s every account is valid on the survivor.
    owners = await holders(pool);
    const victim = [...owners.values()].includes('inst-b') ? b : a;
    const survivor = victim === b ? a : b;
    const killedAt = Date.now();
    await victim.svc.kill9();
    for (const id of ACCOUNTS) await waitForStatus(survivor.svc, valid, `${id} valid after kill -9`, { account: id, timeoutMs: 10_000 });
    const failoverMs = Date.now() - killedAt;
    owners = await holders(pool);
    expect([...owners.values()].every((n) => n === survivor.name)).toBe(true);
    expect(cluster.dc.controls.listAuthKeys().length).toBe(keysBefore); // no new key: no new login
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
    console.log(`cluster: graceful hand-over ${handOverMs} ms, kill -9 failover ${failoverMs} ms (${ACCOUNTS.length} accounts)`);
  }, 120_000);
});

async function waitUntil(ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
