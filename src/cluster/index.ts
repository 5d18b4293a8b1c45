/**
 * One instance of a cluster (STORE=postgres): the pool and schema, the accounts store with fenced writes,
 * ownership of accounts under leases, the registry's view of accounts held elsewhere, and forwarding of
 * requests to their owner. main.ts wires it; see ARCHITECTURE.md, cluster/.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import { orphanedStatus, storedStatus } from '../account/stored-status.js';
import type { AccountStatus } from '../account/types.js';
import type { ClusterDirectory } from '../accounts/registry.js';
import type { Config } from '../config/types.js';
import { createPostgresAccountsStore, type PostgresAccountsStore } from '../store/postgres/accounts-store.js';
import { migrate } from '../store/postgres/migrations.js';
import { createPool, type Pool } from '../store/postgres/pool.js';
import { installKeepalive, keepaliveForLease } from '../telegram/keepalive.js';
import { ClusterDb } from './cluster-db.js';
import { AccountForwarding } from './forwarding.js';
import { RemoteEvents } from './remote-events.js';
import { leaseTimings, Ownership, type HeldAccounts } from './ownership.js';

export { Ownership } from './ownership.js';

export const DEFAULT_LEASE_TTL_MS = 6000;

export interface Cluster {
  instanceId: string;
  pool: Pool;
  store: PostgresAccountsStore;
  ownership: Ownership;
  directory: ClusterDirectory;
  forwarding: AccountForwarding;
  /** The events of accounts held elsewhere, read from the database. */
  remoteEvents: RemoteEvents;
  /** Starts holding accounts (after the HTTP API listens at `url`). */
  start(accounts: HeldAccounts & { has(id: string): boolean }, url: string): Promise<void>;
  /** Hands every account over and leaves the cluster. */
  stop(): Promise<void>;
  /** Closes the pool (last). */
  close(): Promise<void>;
}

/** This instance's name: INSTANCE_ID, or the host name with a random suffix (unique among instances). */
export function defaultInstanceId(): string {
  const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 50) || 'instance';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

export async function openCluster(config: Config, databaseUrl: string, logger: Logger): Promise<Cluster> {
  const instanceId = config.instanceId ?? defaultInstanceId();
  const log = logger.child({ module: 'cluster' });
  const pool = createPool({ connectionString: databaseUrl, log, applicationName: `telegram-service/${instanceId}` });
  const applied = await migrate(pool).catch(async (err: unknown) => {
    await pool.end().catch(() => undefined);
    throw new Error(`PostgreSQL (DATABASE_URL) cannot be used: ${(err as Error).message}`, { cause: err });
  });
  if (applied.length > 0) log.info({ versions: applied }, 'Database schema migrated');

  const ttlMs = config.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  const keepalive = keepaliveForLease(ttlMs);
  await installKeepalive(keepalive);

  const ownership = new Ownership({ pool, databaseUrl, instanceId, timings: leaseTimings(ttlMs), logger });
  const store = createPostgresAccountsStore({
    pool,
    environment: config.environment,
    log: logger.child({ module: 'store' }),
    migrated: true,
    ...(config.sessionEncryptionKey ? { encryptionKey: config.sessionEncryptionKey } : {}),
    fenceOf: (id) => ownership.fenceOf(id),
    onFenced: (id) => ownership.lost(id),
  });
  const db = new ClusterDb(pool);

  const statusFromStore = async (id: string): Promise<AccountStatus> => {
    const session = store.readOnlySessionStore(id, log);
    try {
      await session.load();
      return storedStatus(id, session, config);
    } catch (err) {
      // Unreadable here (e.g. encrypted with another key): its owner says more.
      log.warn({ err, account: id }, 'The stored session of an account held elsewhere could not be read here');
      return storedStatus(id, store.readOnlySessionStore(id, log), config);
    }
  };
  // What is stored is the truth (a login answered is committed, and its holder may have died before its
  // heartbeat published it); the last published status adds what only the holder knew (the user's names,
  // the last validation) when it says the same.
  const statusNobodyServes = async (id: string, published: AccountStatus | null): Promise<AccountStatus> => {
    const stored = await statusFromStore(id);
    return published && published.state === stored.state ? orphanedStatus(published) : stored;
  };
  const statusesOf = async (ids: string[]): Promise<Map<string, AccountStatus>> => {
    const published = await db.statuses(ids);
    const out = new Map<string, AccountStatus>();
    await Promise.all(
      ids.map(async (id) => {
        const entry = published.get(id);
        out.set(id, entry?.status && entry.holderLive ? entry.status : await statusNobodyServes(id, entry?.status ?? null));
      }),
    );
    return out;
  };
  const created = (): void => {
    ownership.nudge();
    void ownership.announce();
  };

  const directory: ClusterDirectory = {
    connectionsFor: (id) => ({ transport: ownership.transportFor(id), pingIntervalMs: keepalive.pingIntervalMs }),
    listIds: (limit, after) => store.listIds(limit, after),
    statusesOf,
    findToken: (tokenId) => store.findToken(tokenId),
    created,
  };

  let local: { has(id: string): boolean } | undefined;
  const forwarding = new AccountForwarding({
    instanceId,
    apiToken: config.apiToken,
    logger,
    isLocal: (id) => local?.has(id) ?? false,
    exists: (id) =>
      store.exists(id).catch((err: unknown) => {
        const known = ownership.knownAccount(id);
        if (known === undefined) throw err;
        return known;
      }),
    create: async (id) => {
      if (await store.create(id)) created();
    },
    ownerOf: (id, opts) => ownership.ownerOf(id, opts),
    cachedOwner: (id) => ownership.cachedOwner(id),
    viewSeq: () => ownership.viewSeq,
    viewsStarted: () => ownership.viewsStarted,
    // Asked only when no instance serves the account (its holder is gone, or there is none yet): never a
    // published status as it stands, which can predate the last login (liveness seen from here and in the
    // database differ for a few seconds after a kill).
    storedStatus: async (id) => statusNobodyServes(id, (await db.statuses([id])).get(id)?.status ?? null),
  });

  const remoteEvents = new RemoteEvents({ databaseUrl, readerOf: (id) => store.journalReader(id), logger });

  return {
    instanceId,
    pool,
    store,
    ownership,
    directory,
    forwarding,
    remoteEvents,
    async start(accounts, url) {
      local = accounts;
      await ownership.start(accounts, url);
    },
    stop: async () => {
      await remoteEvents.stop();
      await ownership.stop();
    },
    close: () => pool.end(),
  };
}
