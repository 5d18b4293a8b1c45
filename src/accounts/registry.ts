/**
 * The account registry: which accounts exist, creating and deleting them, their scoped tokens, and
 * restoring every account at start — all at once from the store (status answers at once), validated in
 * the background with bounded concurrency (never a burst of connections to Telegram).
 *
 * One account's trouble stays its own: each account has its own store, client and state machine, and a
 * failure to restore one account is logged for that account while the others come up.
 */
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { createAccount, type AccountOptions, type Limiter } from '../account/account.js';
import type { Account, AccountStatus } from '../account/types.js';
import type { Config } from '../config/types.js';
import { DEFAULT_ACCOUNT_ID, type AccountsStore, type ScopedTokenRecord } from '../store/types.js';
import type { SandboxDcAddress } from '../telegram/client-factory.js';
import { Mutex } from '../account/mutex.js';
import { DEFAULT_EVENTS_CONFIG } from '../config/load-config.js';
import type { AccountEvents } from '../events/account-events.js';
import type { WebhookDelivery } from '../events/webhook-delivery.js';
import { WebhookAllowList, WebhookTargetPolicy } from '../events/webhook-target.js';
import { type AccountEventParts, closeEventParts, type EventPartsContext, openEventParts, startDelivery } from './account-events-parts.js';
import { isAccountId } from './account-id.js';
import { issueToken, parseToken, secretMatches } from './scoped-tokens.js';

export { DEFAULT_ACCOUNT_ID };
/**
 * Health probes (HEALTH_PROBE_INTERVAL) are spread to at most one per this many ms on average across all
 * accounts: each account's interval is HEALTH_PROBE_INTERVAL or accounts × this, whichever is longer. With
 * 30 s and a thousand accounts, probing each every 30 s would ask Telegram 33 times a second and keep the
 * service busy while idle (each probe, and the reconnect mtcute makes when the server drops the connection
 * seconds after it, costs about a millisecond of CPU); at ten a second each of them is probed every 100 s.
 */
export const PROBE_SPACING_MS = 100;
/** Accounts whose files are read at once during start-up. */
const RESTORE_CONCURRENCY = 16;
const MAX_LIST_LIMIT = 1000;

export type RegistryErrorCode = 'ACCOUNT_EXISTS' | 'ACCOUNT_NOT_FOUND' | 'INVALID_ACCOUNT_ID' | 'TOKEN_NOT_FOUND' | 'STORAGE_UNAVAILABLE';

export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}


export interface PublicToken {
  id: string;
  createdAt: string;
  label: string | null;
}

export interface AccountRegistryOptions {
  config: Config;
  store: AccountsStore;
  logger: Logger;
  sandbox?: SandboxDcAddress;
  /** Extra options for every account (tests: clocks, guards). */
  accountOptions?: Partial<Pick<AccountOptions, 'guessGuard' | 'now' | 'observer'>>;
  /** Sent as the User-Agent of webhook deliveries. */
  userAgent?: string;
  /**
   * A cluster (STORE=postgres): the registry holds live only the accounts ownership gives it (adopt /
   * release); the others are known through the directory.
   */
  cluster?: ClusterDirectory;
}

/** What the registry needs of the cluster for the accounts other instances hold. */
export interface ClusterDirectory {
  /** How an account held here connects (gated on its lease). */
  connectionsFor(id: string): AccountOptions['connections'];
  /** Account ids after `after`, in order. */
  listIds(limit: number, after?: string): Promise<string[]>;
  /** Statuses of accounts held elsewhere (or by nobody right now). */
  statusesOf(ids: string[]): Promise<Map<string, AccountStatus>>;
  /** The account and stored hash of a scoped token id. */
  findToken(tokenId: string): Promise<{ accountId: string; record: ScopedTokenRecord } | undefined>;
  /** An account was created: the instance it belongs on takes it. */
  created(id: string): void;
}

interface Entry {
  account: Account;
  tokens: ScopedTokenRecord[];
  parts: AccountEventParts;
}

export class AccountRegistry {
  private readonly entries = new Map<string, Entry>();
  /** Account ids in order, for pagination. */
  private sortedIds: string[] = [];
  /** Token id → account id, for the bearer check. */
  private readonly tokenOwners = new Map<string, string>();
  private readonly locks = new Map<string, Mutex>();
  private readonly validationLimiter: Limiter;
  /** Validations wait for this: start-up answers status from disk first (see startValidation). */
  private readonly validationAllowed: Promise<void>;
  private allowValidation!: () => void;
  private readonly log: Logger;
  private readonly partsContext: EventPartsContext;
  private stopped = false;

  constructor(private readonly opts: AccountRegistryOptions) {
    this.log = opts.logger.child({ module: 'registry' });
    const limit = pLimit(opts.config.validationConcurrency ?? 8);
    this.validationAllowed = new Promise((resolve) => (this.allowValidation = resolve));
    this.validationLimiter = async (task) => {
      await this.validationAllowed;
      return limit(task);
    };
    const allowList = new WebhookAllowList((opts.config.events ?? DEFAULT_EVENTS_CONFIG).webhookAllowedHosts);
    this.partsContext = {
      config: opts.config,
      store: opts.store,
      logger: opts.logger,
      policy: new WebhookTargetPolicy(allowList),
      userAgent: opts.userAgent ?? 'telegram-service',
    };
  }

  /**
   * Lets the restored sessions' validation begin (bounded by VALIDATION_CONCURRENCY). main.ts calls it once
   * the HTTP API listens: validating loads mtcute and connects to Telegram, and none of that should delay the
   * first status answer.
   */
  startValidation(): void {
    this.allowValidation();
  }

  /** Opens the store and restores every account (files only; validation waits for startValidation()). */
  async start(): Promise<void> {
    const ids = await this.opts.store.open();
    if (this.opts.cluster) {
      this.log.info({ accounts: ids.length }, 'Accounts store open; accounts start as this instance takes them');
      return;
    }
    const restore = pLimit(RESTORE_CONCURRENCY);
    await Promise.all(ids.map((id) => restore(() => this.restore(id))));
    const states = new Map<string, number>();
    for (const { account } of this.entries.values()) {
      const state = account.status().state;
      states.set(state, (states.get(state) ?? 0) + 1);
    }
    this.log.info({ accounts: this.entries.size, states: Object.fromEntries(states) }, 'Accounts restored');
  }

  private async restore(id: string): Promise<void> {
    if (!isAccountId(id)) {
      this.log.warn({ dir: id }, `accounts/${id} is not a valid account id; ignored`);
      return;
    }
    const { account, parts } = await this.startAccount(id).catch((err: unknown) => {
      // This account cannot be loaded (e.g. encrypted with another key): it is left untouched and its
      // error is the account's own; the service and the other accounts carry on.
      this.log.error({ err, account: id }, `Account ${id} could not be restored; its files are left as they are`);
      throw err;
    });
    const tokens = await this.opts.store.listTokens(id).catch((err: unknown) => {
      this.log.error({ err, account: id }, `The scoped tokens of account ${id} could not be read; none are accepted`);
      return [] as ScopedTokenRecord[];
    });
    this.add(id, { account, tokens, parts });
  }

  /** Opens the account's event parts, starts the account on them, then its webhook delivery. */
  private async startAccount(id: string): Promise<{ account: Account; parts: AccountEventParts }> {
    const parts = await openEventParts(id, this.partsContext);
    const account = this.newAccount(id, parts);
    try {
      await account.start();
    } catch (err) {
      await account.stop().catch(() => undefined);
      await closeEventParts(parts);
      throw err;
    }
    await startDelivery(id, parts, this.log);
    return { account, parts };
  }

  private newAccount(id: string, parts: AccountEventParts): Account {
    const log = this.opts.logger;
    const connections = this.opts.cluster?.connectionsFor(id);
    return createAccount({
      id,
      config: this.opts.config,
      store: this.opts.store.sessionStore(id, log.child({ account: id, module: 'store' })),
      logger: log,
      sandbox: this.opts.sandbox,
      validationLimiter: this.validationLimiter,
      ...(parts.events ? { events: parts.events } : {}),
      ...(parts.idempotency ? { idempotency: parts.idempotency } : {}),
      idempotencyTtlMs: (this.opts.config.events ?? DEFAULT_EVENTS_CONFIG).idempotencyTtlMs,
      statusExtras: () => {
        // Read on every GET status: assignments, not spreads.
        const extras: Partial<AccountStatus> = {};
        if (parts.events) extras.events = parts.events.status();
        extras.webhook = parts.webhook?.view() ?? null;
        return extras;
      },
      ...(connections ? { connections } : {}),
      probeIntervalMs: () => this.probeIntervalMs(),
      ...this.opts.accountOptions,
    });
  }

  /** An account's event pipeline and webhook delivery (undefined when it has none: an unreadable journal). */
  eventsOf(id: string): { events: AccountEvents; webhook: WebhookDelivery } | undefined {
    const parts = this.entries.get(id)?.parts;
    return parts?.events && parts.webhook ? { events: parts.events, webhook: parts.webhook } : undefined;
  }

  /** Cluster: starts an account this instance just took (restored from the store, validated in the background). */
  adopt(id: string): Promise<void> {
    return this.lockFor(id).run(async () => {
      if (this.stopped || this.entries.has(id)) return;
      await this.restore(id);
    });
  }

  /**
   * Cluster: stops an account held here (connections closed, pending writes written) and forgets it here;
   * with `drainMs` (a hand-over) a login step under way may finish first. Returns its status once stopped
   * (the last word of this instance on it), or undefined when it was not here.
   */
  release(id: string, opts: { drainMs?: number } = {}): Promise<AccountStatus | undefined> {
    return this.lockFor(id).run(async () => {
      const entry = this.entries.get(id);
      if (!entry) return undefined;
      await entry.account.stop(opts);
      const last = entry.account.status();
      await closeEventParts(entry.parts);
      this.forget(id, entry);
      return last;
    });
  }

  private forget(id: string, entry: Entry): void {
    this.entries.delete(id);
    for (const token of entry.tokens) this.tokenOwners.delete(token.id);
    const at = this.sortedIds.indexOf(id);
    if (at >= 0) this.sortedIds.splice(at, 1);
  }

  /** Each account's health-probe interval now (see PROBE_SPACING_MS; in a cluster, the accounts held here). */
  private probeIntervalMs(): number {
    const interval = this.opts.config.healthProbeIntervalMs ?? 0;
    return interval > 0 ? Math.max(interval, this.entries.size * PROBE_SPACING_MS) : 0;
  }

  private add(id: string, entry: Entry): void {
    this.entries.set(id, entry);
    for (const token of entry.tokens) this.tokenOwners.set(token.id, id);
    insertSorted(this.sortedIds, id);
  }

  /**
   * A change to the store that did not take (disk full, read-only, database down): nothing was changed,
   * said as such — never an unexpected error.
   */
  private async stored<T>(what: string, change: () => Promise<T>, outcome = 'nothing was changed'): Promise<T> {
    try {
      return await change();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      this.log.error({ err, what }, `The account store refused a change (${what})`);
      throw new RegistryError('STORAGE_UNAVAILABLE', `The account store cannot be written right now${typeof code === 'string' ? ` (${code})` : ''}; ${outcome}`);
    }
  }

  private lockFor(id: string): Mutex {
    let lock = this.locks.get(id);
    if (!lock) this.locks.set(id, (lock = new Mutex()));
    return lock;
  }

  get(id: string): Account | undefined {
    return this.entries.get(id)?.account;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The account, or ACCOUNT_NOT_FOUND. */
  require(id: string): Account {
    const account = this.get(id);
    if (!account) throw new RegistryError('ACCOUNT_NOT_FOUND', 'No such account');
    return account;
  }

  /** Creates the account and answers its status (in a cluster, the instance it belongs on starts it). */
  async createAndDescribe(id: string): Promise<AccountStatus> {
    const cluster = this.opts.cluster;
    if (!cluster) return (await this.create(id)).status();
    checkAccountId(id);
    if (!(await this.opts.store.create(id))) throw new RegistryError('ACCOUNT_EXISTS', `An account with the id "${id}" exists already`);
    this.log.info({ account: id }, 'Account created');
    cluster.created(id);
    return this.get(id)?.status() ?? (await cluster.statusesOf([id])).get(id)!;
  }

  create(id: string): Promise<Account> {
    try {
      checkAccountId(id);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.lockFor(id).run(async () => {
      if (this.stopped) throw new RegistryError('ACCOUNT_NOT_FOUND', 'The service is shutting down');
      if (this.entries.has(id) || !(await this.stored('create an account', () => this.opts.store.create(id)))) {
        throw new RegistryError('ACCOUNT_EXISTS', `An account with the id "${id}" exists already`);
      }
      const { account, parts } = await this.startAccount(id);
      this.add(id, { account, tokens: [], parts });
      this.log.info({ account: id }, 'Account created');
      return account;
    });
  }

  /** The account `default` that /api/telegram/* means, created on first use. */
  async defaultAccount(): Promise<Account> {
    const existing = this.get(DEFAULT_ACCOUNT_ID);
    if (existing) return existing;
    try {
      return await this.create(DEFAULT_ACCOUNT_ID);
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'ACCOUNT_EXISTS') return this.require(DEFAULT_ACCOUNT_ID);
      throw err;
    }
  }

  /** Logs the account out at Telegram (when logged in), then removes it with its files and tokens. */
  delete(id: string): Promise<void> {
    return this.lockFor(id).run(async () => {
      const entry = this.entries.get(id);
      if (!entry) throw new RegistryError('ACCOUNT_NOT_FOUND', 'No such account');
      const state = entry.account.status().state;
      if (state !== 'logged_out' && state !== 'revoked') await entry.account.logout();
      await entry.account.stop();
      await closeEventParts(entry.parts);
      try {
        await this.stored('remove an account', () => this.opts.store.remove(id), 'the account is logged out but still exists; delete it again');
      } catch (err) {
        // Still there: it keeps answering (logged out) until a delete succeeds.
        entry.parts = await openEventParts(id, this.partsContext);
        entry.account = this.newAccount(id, entry.parts);
        await entry.account.start().catch(() => undefined);
        await startDelivery(id, entry.parts, this.log);
        throw err;
      }
      this.forget(id, entry);
      this.log.info({ account: id }, 'Account deleted');
    });
  }

  /** Every account's event pipeline and webhook delivery, by account id (for metrics; accounts without events are left out). */
  *eventParts(): Iterable<{ id: string; events: AccountEvents; webhook: WebhookDelivery | undefined }> {
    for (const [id, { parts }] of this.entries) if (parts.events) yield { id, events: parts.events, webhook: parts.webhook };
  }

  /** Every account's status (for metrics). */
  *statuses(): Iterable<AccountStatus> {
    for (const { account } of this.entries.values()) yield account.status();
  }

  /** Statuses in id order, `limit` at a time, after the cursor (an opaque id). */
  async list(limit: number, cursor?: string): Promise<{ accounts: AccountStatus[]; nextCursor: string | null }> {
    const after = cursor ? decodeCursor(cursor) : undefined;
    const size = Math.min(Math.max(1, limit), MAX_LIST_LIMIT);
    const cluster = this.opts.cluster;
    if (cluster) {
      const page = await cluster.listIds(size + 1, after);
      const ids = page.slice(0, size);
      const elsewhere = await cluster.statusesOf(ids.filter((id) => !this.entries.has(id)));
      const accounts = ids.flatMap((id) => {
        const status = this.get(id)?.status() ?? elsewhere.get(id);
        return status ? [status] : [];
      });
      return { accounts, nextCursor: page.length > size && ids.length > 0 ? encodeCursor(ids[ids.length - 1]!) : null };
    }
    const start = after === undefined ? 0 : upperBound(this.sortedIds, after);
    const ids = this.sortedIds.slice(start, start + size);
    const accounts = ids.map((id) => this.entries.get(id)!.account.status());
    const more = start + size < this.sortedIds.length;
    return { accounts, nextCursor: more && ids.length > 0 ? encodeCursor(ids[ids.length - 1]!) : null };
  }

  // ───────────────────────────── tokens ─────────────────────────────

  /** Issues a token scoped to the account; the token itself is returned once and never stored. */
  issueToken(accountId: string, label?: string): Promise<{ id: string; token: string; createdAt: string; label: string | null }> {
    return this.lockFor(accountId).run(async () => {
      const entry = this.requireEntry(accountId);
      const issued = issueToken(new Date(), label);
      const tokens = [...entry.tokens, issued.record];
      await this.stored('save the tokens', () => this.opts.store.saveTokens(accountId, tokens));
      entry.tokens = tokens;
      this.tokenOwners.set(issued.record.id, accountId);
      this.log.info({ account: accountId, tokenId: issued.record.id }, 'Scoped token issued');
      return { id: issued.record.id, token: issued.token, createdAt: issued.record.createdAt, label: label ?? null };
    });
  }

  listTokens(accountId: string): PublicToken[] {
    return this.requireEntry(accountId).tokens.map((t) => ({ id: t.id, createdAt: t.createdAt, label: t.label ?? null }));
  }

  revokeToken(accountId: string, tokenId: string): Promise<void> {
    return this.lockFor(accountId).run(async () => {
      const entry = this.requireEntry(accountId);
      if (!entry.tokens.some((t) => t.id === tokenId)) throw new RegistryError('TOKEN_NOT_FOUND', 'No such token for this account');
      // Revoked at once: the bearer check stops accepting it before the file is rewritten.
      this.tokenOwners.delete(tokenId);
      const tokens = entry.tokens.filter((t) => t.id !== tokenId);
      entry.tokens = tokens;
      await this.stored('save the tokens', () => this.opts.store.saveTokens(accountId, tokens), 'the token is refused by this process but not yet revoked on disk; revoke it again');
      this.log.info({ account: accountId, tokenId }, 'Scoped token revoked');
    });
  }

  /** The account a presented scoped token belongs to (undefined: not a valid scoped token). */
  async authenticateScoped(presented: string): Promise<{ accountId: string; tokenId: string } | undefined> {
    const parsed = parseToken(presented);
    if (!parsed) return undefined;
    let accountId = this.tokenOwners.get(parsed.id);
    let record = accountId ? this.entries.get(accountId)?.tokens.find((t) => t.id === parsed.id) : undefined;
    if (!record && this.opts.cluster) {
      // An account held by another instance: its tokens are in the database (revocations seen at once).
      const found = await this.opts.cluster.findToken(parsed.id);
      accountId = found?.accountId;
      record = found?.record;
    }
    if (!accountId || !record || !secretMatches(parsed.secret, record.hash)) return undefined;
    return { accountId, tokenId: record.id };
  }

  private requireEntry(id: string): Entry {
    const entry = this.entries.get(id);
    if (!entry) throw new RegistryError('ACCOUNT_NOT_FOUND', 'No such account');
    return entry;
  }

  /** Stops every account (each persists and disconnects). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.allowValidation(); // a validation still waiting finds its account stopped and ends
    await Promise.all(
      [...this.entries.values()].map(async ({ account, parts }) => {
        await account.stop().catch(() => undefined);
        await closeEventParts(parts);
      }),
    );
  }
}

function checkAccountId(id: string): void {
  if (!isAccountId(id)) {
    throw new RegistryError('INVALID_ACCOUNT_ID', 'id must be 1 to 64 characters: lower-case letters, digits, "-" and "_", starting with a letter or digit');
  }
}

function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isAccountId(id)) throw new RegistryError('INVALID_ACCOUNT_ID', 'cursor is not one this service issued');
  return id;
}

/** Index of the first element greater than `value` in sorted `list`. */
function upperBound(list: string[], value: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(list: string[], value: string): void {
  const at = upperBound(list, value);
  if (list[at - 1] !== value) list.splice(at, 0, value);
}
