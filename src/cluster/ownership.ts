/**
 * Ownership: which accounts this instance holds live, under leases in PostgreSQL (see ARCHITECTURE.md,
 * cluster/). Every `heartbeatMs`:
 *
 *  1. Heartbeat: the incarnation's lease is extended to now + ttl (database clock). Locally the lease is
 *     trusted until `sentAt + ttl − closeMargin` (monotonic clock, measured from before the heartbeat was
 *     sent, so it always ends before the database's expiry). When that moment passes without a newer
 *     heartbeat — the database unreachable, the process stalled — every connection is cut at once and every
 *     account dropped: the owner is gone from Telegram before anyone else can take its accounts.
 *  2. Assignment: each account belongs on the live instance rendezvous hashing names (assignment.ts).
 *     Accounts held here that belong elsewhere are handed over (stopped, then the lease released and the
 *     cluster notified); accounts that belong here and whose holder is gone (none, or a lease expired more
 *     than `graceMs` ago) are acquired with a new fencing epoch, then started.
 *  3. Statuses of held accounts that changed are published for other instances.
 *
 * Every write of a held account carries its fence (incarnation + epoch): the store's UPDATE commits only
 * while that is still the account's lease (store/postgres/session-store.ts).
 */
import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import pg from 'pg';
import type { Logger } from 'pino';
import type { AccountStatus } from '../account/types.js';
import type { Fence } from '../store/postgres/fence.js';
import { pgErrorCode, type Pool } from '../store/postgres/pool.js';
import { LOG_MESSAGES } from '../logging/messages.js';
import { GatedTransport } from '../telegram/gated-transport.js';
import { targetInstance } from './assignment.js';
import { CLUSTER_CHANNEL, ClusterDb, type ClusterView, type LiveInstance } from './cluster-db.js';

/** What ownership asks of the accounts layer (the registry). */
export interface HeldAccounts {
  /** Restore the account from the store and start it live (its writes fenced by `fenceOf`). */
  adopt(id: string): Promise<void>;
  /**
   * Stop the account: close its connections, write what is pending (after a step under way, for at most
   * drainMs). Resolves with its last status (undefined: it was not here).
   */
  release(id: string, opts?: { drainMs?: number }): Promise<AccountStatus | undefined>;
  status(id: string): AccountStatus | undefined;
}

export interface LeaseTimings {
  ttlMs: number;
  heartbeatMs: number;
  /** Connections are closed this long before the lease could expire. */
  closeMarginMs: number;
  /** A lease expired at least this long ago before another instance takes its accounts. */
  graceMs: number;
}

export function leaseTimings(ttlMs: number): LeaseTimings {
  return { ttlMs, heartbeatMs: Math.round(ttlMs / 5), closeMarginMs: Math.round(ttlMs / 5), graceMs: Math.round(ttlMs / 10) };
}

export interface OwnershipOptions {
  pool: Pool;
  databaseUrl: string;
  instanceId: string;
  timings: LeaseTimings;
  logger: Logger;
  /** Accounts started at once after a take-over (validation has its own bound in the registry). */
  adoptConcurrency?: number;
  now?: () => number;
}

type HeldState = 'starting' | 'live' | 'releasing';

interface Held {
  epoch: number;
  state: HeldState;
  transport: GatedTransport;
  published?: string;
}

export class Ownership {
  private readonly db: ClusterDb;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly held = new Map<string, Held>();
  private readonly adoptLimit: ReturnType<typeof pLimit>;
  private accounts: HeldAccounts | undefined;
  private incarnationId = randomUUID();
  private registered = false;
  /** Monotonic ms until which this instance may hold connections; 0 = not at all. */
  private lapseAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private listener: pg.Client | undefined;
  private ticking: Promise<void> | undefined;
  private tickAgain = false;
  private stopped = false;
  private lastView: ClusterView | undefined;
  /** Views of the cluster asked for so far, and the number of the one held now: a forwarded request trusts only a view asked for after it began. */
  viewsStarted = 0;
  viewSeq = 0;
  private lastSweep = 0;
  /** Where other instances reach this one's HTTP API. */
  private url: string | null = null;

  constructor(private readonly opts: OwnershipOptions) {
    this.db = new ClusterDb(opts.pool);
    this.log = opts.logger.child({ module: 'cluster', instance: opts.instanceId });
    this.now = opts.now ?? (() => performance.now());
    this.adoptLimit = pLimit(opts.adoptConcurrency ?? 16);
  }

  get incarnation(): string {
    return this.incarnationId;
  }

  get instanceId(): string {
    return this.opts.instanceId;
  }

  /** The fence every write of the account must carry; undefined when this instance does not hold it now. */
  fenceOf(id: string): Fence | undefined {
    const held = this.held.get(id);
    if (!held || !this.leaseValid()) return undefined;
    return { holder: this.incarnationId, epoch: held.epoch };
  }

  /** The account's gated transport (one per holding; connections open only while held and the lease is valid). */
  transportFor(id: string): GatedTransport {
    const held = this.held.get(id);
    if (!held) throw new Error(`account ${id} is not held by this instance`);
    return held.transport;
  }

  holds(id: string): boolean {
    const held = this.held.get(id);
    return !!held && held.state !== 'releasing';
  }

  /** Held accounts, for the registry's "which are mine". */
  heldIds(): string[] {
    return [...this.held.keys()];
  }

  private leaseValid(): boolean {
    return this.now() < this.lapseAt;
  }

  /** Registers this instance and starts the loop; resolves after the first round (accounts acquired and starting). */
  async start(accounts: HeldAccounts, url: string | null): Promise<void> {
    this.accounts = accounts;
    this.url = url;
    await this.listen();
    await this.tick();
    this.watchdog = setInterval(() => this.checkLapse(), Math.max(50, Math.round(this.opts.timings.closeMarginMs / 4)));
    this.watchdog.unref();
    this.schedule();
  }

  /** Run a round soon (something changed: an account created, a token of the cluster). */
  nudge(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.runTick(), 10);
    this.timer.unref();
  }

  /** Tells the other instances to look again now (after an account was created). */
  async announce(): Promise<void> {
    await this.db.notify().catch(() => undefined);
  }

  /** A write of the account was refused by its fence: it is someone else's now. */
  lost(id: string): void {
    const held = this.held.get(id);
    if (!held || held.state === 'releasing') return;
    this.log.warn({ account: id, epoch: held.epoch }, 'Account lease lost (a write was fenced off); stopping it here');
    held.state = 'releasing';
    held.transport.cutAll();
    void this.dropLocally(id);
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.runTick(), this.opts.timings.heartbeatMs);
    this.timer.unref();
  }

  private async runTick(): Promise<void> {
    try {
      await this.tick();
    } catch (err) {
      this.log.warn({ code: pgErrorCode(err) }, 'Cluster round failed; retrying at the next heartbeat');
    } finally {
      if (this.tickAgain) {
        this.tickAgain = false;
        this.nudge();
      } else {
        this.schedule();
      }
    }
  }

  private tick(): Promise<void> {
    this.ticking ??= this.round().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    await this.heartbeat();
    if (!this.leaseValid()) return;
    if (!this.listener) await this.listen();
    const started = ++this.viewsStarted;
    const view = await this.db.view();
    this.lastView = view;
    this.viewSeq = started;
    if (!this.leaseValid()) return;
    const liveIds = [...new Set(view.live.map((i) => i.instanceId))];
    const liveIncarnations = new Set(view.live.map((i) => i.incarnation));

    // Held accounts: still ours? still belonging here?
    for (const [id, held] of this.held) {
      if (held.state === 'releasing') continue;
      const lease = view.leases.get(id);
      if (!lease || lease.holder !== this.incarnationId || lease.epoch !== held.epoch) {
        this.log.warn({ account: id }, lease ? 'Account now held by another instance; stopping it here' : 'Account deleted; stopping it here');
        held.state = 'releasing';
        held.transport.cutAll();
        void this.dropLocally(id);
        continue;
      }
      const target = targetInstance(id, liveIds);
      if (target !== undefined && target !== this.opts.instanceId) void this.handOver(id, held);
    }

    // Accounts that belong here and that nobody live holds.
    const toAcquire = view.accounts.filter((id) => {
      if (this.held.has(id) || targetInstance(id, liveIds) !== this.opts.instanceId) return false;
      const holder = view.leases.get(id)?.holder ?? null;
      return holder === null || !liveIncarnations.has(holder);
    });
    await Promise.all(toAcquire.map((id) => this.adoptLimit(() => this.acquire(id))));

    await this.publish();
    if (this.now() - this.lastSweep > 60_000) {
      this.lastSweep = this.now();
      await this.db.sweep(10 * 60_000).catch(() => undefined);
    }
  }

  private async heartbeat(): Promise<void> {
    const sentAt = this.now();
    const { ttlMs, closeMarginMs } = this.opts.timings;
    try {
      if (!this.registered) {
        await this.db.register(this.incarnationId, this.opts.instanceId, this.url, ttlMs);
        this.registered = true;
        this.log.info({ incarnation: this.incarnationId, url: this.url }, LOG_MESSAGES.clusterJoined);
      } else if (!(await this.db.heartbeat(this.incarnationId, ttlMs))) {
        this.log.error({ incarnation: this.incarnationId }, 'This instance\'s lease had expired; dropping every account and joining again');
        this.lapse();
        return this.heartbeat();
      }
      this.lapseAt = sentAt + ttlMs - closeMarginMs;
    } catch (err) {
      this.log.warn({ code: pgErrorCode(err), closesInMs: Math.max(0, Math.round(this.lapseAt - this.now())) }, 'Cluster heartbeat failed');
      throw err;
    }
  }

  /** Runs often: past the local deadline, nothing may stay connected. */
  private checkLapse(): void {
    if (this.lapseAt !== 0 && !this.leaseValid()) {
      this.log.error({ accounts: this.held.size }, 'Cluster lease about to expire without a heartbeat (database unreachable, or this process stalled); closing every connection');
      this.lapse();
    }
  }

  /** Cuts every connection now and forgets every account; the next round joins as a new incarnation. */
  private lapse(): void {
    this.lapseAt = 0;
    for (const held of this.held.values()) {
      held.state = 'releasing';
      held.transport.cutAll();
    }
    for (const id of [...this.held.keys()]) void this.dropLocally(id);
    this.registered = false;
    this.incarnationId = randomUUID();
  }

  private async acquire(id: string): Promise<void> {
    if (this.stopped || !this.leaseValid() || this.held.has(id)) return;
    const epoch = await this.db.acquire(id, this.incarnationId, this.opts.timings.graceMs).catch((err: unknown) => {
      this.log.warn({ account: id, code: pgErrorCode(err) }, 'Could not take the account');
      return undefined;
    });
    if (epoch === undefined || this.stopped) return;
    const held: Held = { epoch, state: 'starting', transport: new GatedTransport(() => this.mayConnect(id, held)) };
    this.held.set(id, held);
    this.log.info({ account: id, epoch }, 'Account taken; starting it here');
    try {
      await this.accounts!.adopt(id);
      if (held.state === 'starting') held.state = 'live';
    } catch (err) {
      this.log.error({ err, account: id }, 'Account could not be started here; letting it go');
      await this.handOver(id, held);
    }
  }

  private mayConnect(id: string, held: Held): boolean {
    return this.held.get(id) === held && held.state !== 'releasing' && this.leaseValid();
  }

  /** Stops the account here, then frees its lease for the instance it belongs on. */
  private async handOver(id: string, held: Held): Promise<void> {
    if (held.state === 'releasing') return;
    held.state = 'releasing';
    this.log.info({ account: id }, 'Handing the account over');
    // New requests already wait for the next owner (holds() is false); one under way may finish, while
    // the lease has time left.
    const last = await this.accounts!.release(id, { drainMs: Math.max(0, this.lapseAt - this.now() - this.opts.timings.closeMarginMs) }).catch((err: unknown) => {
      this.log.warn({ err, account: id }, 'Error while stopping the account');
      return undefined;
    });
    held.transport.cutAll();
    if (this.held.get(id) === held) this.held.delete(id);
    // Its last status is what the other instances list until the next owner has it live (statuses are
    // otherwise published on the heartbeat: never one from before a login that just finished here).
    if (last) await this.db.publishStatuses(this.incarnationId, [{ accountId: id, epoch: held.epoch, status: last }]).catch(() => undefined);
    await this.db.release(id, this.incarnationId, held.epoch).catch(() => undefined);
    await this.db.notify().catch(() => undefined);
  }

  /** Forgets the account here without touching its lease (it is someone else's, or ours has lapsed). */
  private async dropLocally(id: string): Promise<void> {
    const held = this.held.get(id);
    await this.accounts!.release(id).catch(() => undefined);
    held?.transport.cutAll();
    if (held && this.held.get(id) === held) this.held.delete(id);
  }

  private async publish(): Promise<void> {
    const changed: Array<{ accountId: string; epoch: number; status: AccountStatus; json: string; held: Held }> = [];
    for (const [id, held] of this.held) {
      if (held.state !== 'live') continue;
      const status = this.accounts!.status(id);
      if (!status) continue;
      const json = JSON.stringify(status);
      if (json !== held.published) changed.push({ accountId: id, epoch: held.epoch, status, json, held });
    }
    if (changed.length === 0) return;
    await this.db.publishStatuses(this.incarnationId, changed);
    for (const c of changed) c.held.published = c.json;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.databaseUrl, connectionTimeoutMillis: 3000, keepAlive: true });
    client.on('error', () => {
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
    });
    client.on('notification', () => this.nudge());
    try {
      await client.connect();
      await client.query(`LISTEN ${CLUSTER_CHANNEL}`);
      this.listener = client;
    } catch (err) {
      this.log.debug({ code: pgErrorCode(err) }, 'Cluster notifications unavailable; relying on the heartbeat rounds');
      await client.end().catch(() => undefined);
    }
  }

  /**
   * The live holder of an account: from the last view of the cluster (refreshed every heartbeat and on
   * every notification; no query), or asked of the database (`fresh`, or when the view does not know).
   */
  async ownerOf(id: string, opts: { fresh?: boolean } = {}): Promise<{ incarnation: string; instanceId: string; url: string | null; self: boolean } | undefined> {
    if (this.holds(id)) return { incarnation: this.incarnationId, instanceId: this.opts.instanceId, url: this.url, self: true };
    const cached = this.cachedOwner(id);
    if (cached && !opts.fresh) return cached;
    let owner: LiveInstance | undefined;
    try {
      owner = await this.db.ownerOf(id);
    } catch (err) {
      // The database is away (a restart): the last view still knows who held what a moment ago.
      if (!cached) throw err;
      return cached;
    }
    return owner ? { ...owner, self: owner.incarnation === this.incarnationId } : undefined;
  }

  /** The holder the last view names, if it was live then. */
  cachedOwner(id: string): { incarnation: string; instanceId: string; url: string | null; self: boolean } | undefined {
    const holder = this.lastView?.leases.get(id)?.holder;
    const owner = holder ? this.lastView?.live.find((i) => i.incarnation === holder) : undefined;
    return owner ? { ...owner, self: owner.incarnation === this.incarnationId } : undefined;
  }

  /** Graceful stop: every account stopped here and its lease freed at once; the instance leaves the cluster. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    await this.ticking?.catch(() => undefined);
    await Promise.all([...this.held.keys()].map((id) => this.accounts?.release(id).catch(() => undefined)));
    for (const held of this.held.values()) held.transport.cutAll();
    this.held.clear();
    await this.db.withdraw(this.incarnationId).catch((err: unknown) => this.log.warn({ code: pgErrorCode(err) }, 'Could not leave the cluster cleanly; the lease expires by itself'));
    await this.listener?.end().catch(() => undefined);
    this.listener = undefined;
    this.log.info('Left the cluster');
  }

  /** Whether the account exists as of the last view (the database being away). */
  knownAccount(id: string): boolean | undefined {
    return this.lastView ? this.lastView.leases.has(id) : undefined;
  }
}
