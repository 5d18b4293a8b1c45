/**
 * PostgreSQL restarts under a running cluster: no account is logged out, every instance keeps answering
 * (the owner from memory, the others by forwarding to the owner they last saw), a write made meanwhile
 * is kept in memory, shown as a persistence error in status, and written once the database is back.
 */
import { describe, expect, it } from 'vitest';
import { clusterPerFile, holders } from '../helpers/cluster.js';
import { uniquePhone, waitForStatus, type Body } from '../helpers/sandbox-service.js';

const cluster = clusterPerFile(undefined, { ownServer: true });

const valid = (body: Body): boolean => body.state === 'authenticated' && body.session.validation === 'valid';

describe('a database restart while instances run', () => {
  it('logs nobody out, retries the writes and says persistence is degraded meanwhile', async () => {
    const a = await cluster.start('r1');
    const b = await cluster.start('r2');
    const ids = ['r-acc1', 'r-acc2', 'r-acc3', 'r-acc4'];
    for (const id of ids) {
      const phone = uniquePhone('1561');
      cluster.dc.controls.createUser({ phone });
      expect((await a.svc.request('POST', '/api/accounts', { id })).status).toBe(201);
      await b.svc.request('POST', `/api/accounts/${id}/auth/send-code`, { phone });
      const done = await b.svc.request('POST', `/api/accounts/${id}/auth/verify-code`, { code: cluster.dc.controls.lastCode(phone) });
      expect(done.body.state).toBe('authenticated');
    }
    // One more account, logged out: its login will be written while the database is away.
    expect((await a.svc.request('POST', '/api/accounts', { id: 'r-late' })).status).toBe(201);
    for (const id of ids) await waitForStatus(a.svc, valid, `${id} valid`, { account: id });
    await waitForStatus(a.svc, (s) => s.state === 'logged_out', 'r-late held', { account: 'r-late' });
    const lateOwner = (await holders(cluster.pool())).get('r-late') === 'r1' ? a : b;

    await cluster.server.stop();
    const phone = uniquePhone('1561');
    cluster.dc.controls.createUser({ phone });
    const sent = await lateOwner.svc.request('POST', '/api/accounts/r-late/auth/send-code', { phone });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    const degraded = await lateOwner.svc.request('GET', '/api/accounts/r-late/status');
    expect(degraded.status).toBe(200);
    expect(degraded.body).toMatchObject({ state: 'code_sent', persistenceError: { file: 'postgres' } });
    // Every account answers from both instances, still logged in.
    for (const instance of [a, b]) {
      for (const id of ids) {
        const res = await instance.svc.request('GET', `/api/accounts/${id}/status`);
        expect(res.status, `${id} via ${instance.name}: ${JSON.stringify(res.body)}`).toBe(200);
        expect(res.body.state).toBe('authenticated');
      }
    }
    await cluster.server.start();

    // The pending write lands; the error clears; the login finishes.
    await waitForStatus(lateOwner.svc, (s) => s.persistenceError === undefined, 'persistence back', { account: 'r-late', timeoutMs: 15_000 });
    const done = await a.svc.request('POST', '/api/accounts/r-late/auth/verify-code', { code: cluster.dc.controls.lastCode(phone) });
    expect(done.body.state, JSON.stringify(done.body)).toBe('authenticated');
    for (const id of [...ids, 'r-late']) {
      for (const instance of [a, b]) await waitForStatus(instance.svc, valid, `${id} valid after the restart`, { account: id, timeoutMs: 20_000 });
    }
    // Nothing lost: a full restart of both instances brings every login back from the database.
    expect(await a.svc.stop()).toBe(0);
    expect(await b.svc.stop()).toBe(0);
    const c = await cluster.start('r3');
    for (const id of [...ids, 'r-late']) await waitForStatus(c.svc, valid, `${id} restored`, { account: id, timeoutMs: 20_000 });
  }, 120_000);
});
