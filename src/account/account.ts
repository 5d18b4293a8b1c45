/**
 * One account's login/session state machine: logged_out → code_sent → (password_required) → authenticated,
 * and from authenticated to expired, revoked or logged_out. The only place that decides to clear a session.
 *
 * Login steps and logout run one at a time (a mutex). Background work (validation, probes, reconnect
 * retries, recovery) carries an epoch: a logout, a new login or an expiry bumps it, and a late answer from
 * before is dropped. Every call made for an authenticated session goes through `authorized()`, the one
 * failure policy (recovery, revocation, outage, flood wait) shared by API calls and background validation.
 */
import type { tl } from '@mtcute/core';
import type { TelegramClient } from '@mtcute/node';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { AccountEvents } from '../events/account-events.js';
import { maskPhone } from '../logging/index.js';
import type { AuthStateFile, IdempotencyStore, LoginMethod, PendingLogin, PendingQrLogin, SessionMeta, SessionStore } from '../store/types.js';
import { TelegramCallError } from '../telegram/call-error.js';
import type { CreateClientOptions, SandboxDcAddress } from '../telegram/client-factory.js';
import type { TelegramErrorKind } from '../telegram/errors.js';
import { loadTelegram } from '../telegram/load.js';
import { AttemptGuard, GUESS_GUARD_DEFAULTS, WindowBudget, type AttemptGuardOptions } from './attempt-guard.js';
import { type AttemptOutcome, RetryLoop } from './backoff.js';
import { ClientHolder, SessionEndingError } from './client-holder.js';
import { activeFloodWaits, floodWaitRemainingSeconds, latestFloodWait, recordFloodWait } from './flood-waits.js';
import { keepToken, tokensToOffer, withoutOffered, type EarnedToken } from './future-auth-tokens.js';
import * as login from './login-flow.js';
import { AccountMessaging } from './messaging.js';
import { Mutex } from './mutex.js';
import { normalizePhone } from './phone.js';
import { runQrLogin, type QrLoginClient, type QrOutcome } from './qr-login.js';
import { toPublicUser, withMaskedPhone } from './public-user.js';
import { recoverSession } from './recovery.js';
import { authStateExpiresAt, decideStartupState, touchIntervalMs } from './restore.js';
import * as health from './session-health.js';
import { toAccountError } from './telegram-errors.js';
import {
  type Account,
  AccountError,
  type AccountState,
  type AccountObserver,
  type AccountStatus,
  type Authenticated,
  type CodeSent,
  type PasswordRequired,
  type PublicUser,
  type QrCode,
  type QrPending,
} from './types.js';
import { LOG_MESSAGES } from '../logging/messages.js';

/** Runs a task under a shared bound (the registry's start-up validation limit). */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export interface AccountOptions {
  id: string;
  config: Config;
  store: SessionStore;
  /** The service's logger; the account's lines carry its id. */
  logger: Logger;
  sandbox?: SandboxDcAddress;
  /** Bounds how many accounts validate at once after a start (never a burst of connections). */
  validationLimiter?: Limiter;
  /** Told of validations, recoveries, revocations, reconnects and flood waits (metrics). */
  observer?: AccountObserver;
  /** The health probe's interval now (default: HEALTH_PROBE_INTERVAL; the registry stretches it for many accounts). */
  probeIntervalMs?: () => number;
  /** Wrong-code and wrong-password guards (defaults: 5 free, then 30 s doubling up to 1 h). */
  guessGuard?: AttemptGuardOptions;
  now?: () => number;
  /**
   * The account's event pipeline (opened by the caller before start()): with it, a logged-in session runs
   * mtcute's updates loop from the journaled state and every update becomes an event.
   */
  events?: AccountEvents;
  /** Idempotency-Keys of POST /messages, kept `idempotencyTtlMs` (default 24 h). */
  idempotency?: IdempotencyStore;
  idempotencyTtlMs?: number;
  /** More of the status (webhook delivery), from whoever owns it. */
  statusExtras?: () => Partial<AccountStatus>;
  /** How the account's client connects (a cluster gates connections on the account's lease). */
  connections?: Pick<CreateClientOptions, 'transport' | 'pingIntervalMs'>;
}

const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;

const RETRY_BASE_MS = 1000;
/** A call retried on a fresh client after a recovery replaced the one it was using (bounded). */
const MAX_CALL_ATTEMPTS = 3;
/** saved_at more than this far in the future is not believed (a clock that was wrong when it was written). */
const FUTURE_SAVED_AT_TOLERANCE_MS = 5 * 60_000;
/** setTimeout's limit; a longer expiry is re-armed when the timer fires. */
const MAX_TIMER_MS = 2_147_483_647;

/** QR_LOGIN_TIMEOUT when the config does not say. */
const DEFAULT_QR_LOGIN_TIMEOUT_MS = 10 * 60_000;

type RecoveryOutcome = 'recovered' | 'gone' | 'inconclusive';

/** A QR login running in the background: its loop, the code it shows, whether Telegram said it was scanned. */
interface QrAttempt {
  epoch: number;
  startedAt: number;
  controller: AbortController;
  code: QrCode | null;
  scanned: boolean;
  /** Settles once the loop has ended and its client is closed. */
  ended: Promise<void>;
}
type CallMode = 'api' | 'background';

export function createAccount(opts: AccountOptions): Account {
  return new TelegramAccount(opts);
}

class TelegramAccount implements Account {
  readonly id: string;
  private readonly config: Config;
  private readonly store: SessionStore;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly mutex = new Mutex();
  private readonly retry: RetryLoop;
  private readonly clients: ClientHolder;
  /** Builds an mtcute client over the account's store (the holder's, or a QR login's own). */
  private readonly createClient: (options?: { rawUpdates?: boolean }) => Promise<TelegramClient>;
  private readonly validationLimiter: Limiter;
  private readonly probeIntervalMs: () => number;
  private readonly codeGuard: AttemptGuard;
  private readonly passwordGuard: AttemptGuard;
  private readonly loginBudget: WindowBudget;
  private readonly observer: AccountObserver;
  private readonly events: AccountEvents | undefined;
  private readonly statusExtras: (() => Partial<AccountStatus>) | undefined;
  /** The account API (dialogs, history, send, read), through authorized(). */
  readonly messaging: AccountMessaging;

  private state: AccountState = 'logged_out';
  /** The account's user, full phone (masked on the way out in status). */
  private user: PublicUser | null = null;
  private reason: string | undefined;
  private health: health.SessionHealth = health.NO_SESSION;
  private epoch = 0;
  private recovery: Promise<RecoveryOutcome> | null = null;
  private touching = false;
  /** The auth state's saved_at as last parsed (status and touch read it on every request). */
  private savedAt: { text: string; ms: number } | undefined;
  /** What status() last answered for the expiry and the user, reused while they are the same. */
  private expiresAtText: { ms: number; text: string } | undefined;
  private maskedUser: { of: PublicUser; masked: PublicUser } | undefined;
  private initialStateLogged = false;
  private stopped = false;
  /** A state-changing login step timed out and Telegram could not be asked what became of it. */
  private unresolvedLoginStep = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  /** The QR login in progress, if any (state `qr_pending`). */
  private qr: QrAttempt | null = null;
  private readonly stopController = new AbortController();

  constructor(opts: AccountOptions) {
    this.id = opts.id;
    this.config = opts.config;
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ account: opts.id, module: 'account' });
    this.validationLimiter = opts.validationLimiter ?? ((task) => task());
    this.observer = opts.observer ?? {};
    this.probeIntervalMs = opts.probeIntervalMs ?? (() => this.config.healthProbeIntervalMs ?? 0);
    const guard = { ...GUESS_GUARD_DEFAULTS, ...opts.guessGuard, now: this.now };
    this.codeGuard = new AttemptGuard(guard);
    this.passwordGuard = new AttemptGuard(guard);
    this.loginBudget = new WindowBudget(this.config.loginRateLimit ?? { max: 0, windowMs: 60_000 }, this.now);
    const clientLogger = opts.logger.child({ account: opts.id });
    this.events = opts.events;
    this.statusExtras = opts.statusExtras;
    const events = opts.events;
    this.createClient = async (options = {}) => {
      const telegram = await loadTelegram();
      // A QR login's own client hears pushes raw: it keeps no updates state of the account's, and its
      // pushes are no events.
      const journaled = events && !options.rawUpdates ? events : undefined;
      const client = await telegram.createTelegramClient({
        config: this.config,
        storage: (primaryDcs) => this.store.createStorage({ primaryDcs, ...(journaled ? { updates: journaled.updateStateBinding() } : {}) }),
        logger: clientLogger,
        sandbox: opts.sandbox,
        ...(journaled ? { onUpdatesGap: (detail: string) => journaled.add(telegram.gapEvent(detail, this.now())) } : {}),
        onPong: () => this.pongSeen(),
        ...opts.connections,
        ...options,
      });
      if (journaled) telegram.feedUpdates(client, (event) => journaled.add(event), this.log);
      return client;
    };
    this.clients = new ClientHolder({
      logger: this.log,
      create: () => this.createClient(),
      onCreated: (client) => {
        let previous: string | undefined;
        client.onConnectionState.add((state) => {
          // mtcute also says `connected` when a catch-up ends (after `updating`): that is no reconnection.
          const afterCatchUp = previous === 'updating';
          previous = state;
          if (state !== 'connected' || afterCatchUp || this.clients.replaced(client)) return;
          this.observer.reconnect?.();
          // mtcute got the connection back: retry now rather than at the end of the backoff delay.
          if (this.health.connection === 'offline') this.retry.kick();
        });
      },
    });
    // Events the journal had to let go (a disk that kept failing): a new client catches up from the journaled state.
    if (events) events.onResyncNeeded = () => void this.clients.drop().then(() => this.validationAttempt(this.epoch));
    this.messaging = new AccountMessaging({
      run: (method, call) => this.authorized(method, (client) => call(client, (request) => this.call(client, request)), 'api'),
      abandon: async (client) => {
        if (!this.clients.replaced(client)) await this.clients.drop();
      },
      ...(events ? { journal: (event) => events.add(event) } : {}),
      ...(opts.idempotency ? { idempotency: opts.idempotency } : {}),
      idempotencyTtlMs: opts.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS,
      logger: this.log,
      now: this.now,
    });
    this.retry = new RetryLoop({
      baseMs: Math.min(RETRY_BASE_MS, Math.max(1, this.config.retryMaxDelayMs)),
      capMs: Math.max(1, this.config.retryMaxDelayMs),
      logger: this.log,
      what: LOG_MESSAGES.telegramConnection,
      attempt: () => this.validationAttempt(this.epoch),
    });
  }

  // ───────────────────────────── start-up ─────────────────────────────

  async start(): Promise<void> {
    await this.store.load();
    await this.dropKeysOfAnotherEnvironment();
    await this.distrustFutureSavedAt();
    const decision = decideStartupState(this.store, this.config.sessionMaxIdleMs, this.now());
    switch (decision.state) {
      case 'logged_out':
        if (decision.staleAuthState) {
          this.log.warn(LOG_MESSAGES.authStateWithoutSession);
          await this.store.removeAuthState();
        }
        this.setState('logged_out', decision.reason);
        return;
      case 'expired':
        this.user = userFromAuthState(decision.authState.user_id, decision.authState.phone);
        this.setState('expired', 'SESSION_MAX_IDLE');
        this.log.info({ savedAt: decision.authState.saved_at }, LOG_MESSAGES.authStateTooOld);
        return;
      case 'code_sent':
      case 'password_required':
        this.log.info({ phone: maskPhone(decision.pending.phone) }, 'Login in progress restored from disk');
        this.setState(decision.state);
        return;
      case 'qr_pending':
      case 'qr_password_required':
        this.restoreQrLogin(decision.qrLogin);
        return;
      case 'authenticated': {
        // A kill between writing auth_state.json and clearing the login in progress leaves a stale one
        // behind; left there, a later interrupted logout would bring it back as `code_sent`.
        if (this.store.meta()?.pendingLogin) await this.persistPendingLogin(undefined);
        this.user = userFromAuthState(decision.authState.user_id, decision.authState.phone);
        this.health = health.restoredFromDisk();
        this.setState('authenticated');
        this.armExpiryTimer();
        void this.validateAtStartup(this.epoch);
        return;
      }
    }
  }

  /** A key never crosses environments: keys made for another Telegram are useless here and are dropped. */
  private async dropKeysOfAnotherEnvironment(): Promise<void> {
    const environment = this.store.meta()?.environment;
    if (!environment || environment === this.config.environment || !this.store.hasSession()) return;
    this.log.warn({ sessionEnvironment: environment, environment: this.config.environment }, LOG_MESSAGES.sessionOfAnotherEnvironment);
    await this.store.removeAuthState();
    await this.clearSessionKeepingFloodWaits();
  }

  /**
   * A saved_at in the future would keep a session alive past SESSION_MAX_IDLE for as long as it is ahead
   * (a clock that was wrong when it was written, a copied file): it counts from now instead.
   */
  private async distrustFutureSavedAt(): Promise<void> {
    const authState = this.store.authState();
    if (!authState) return;
    const savedAt = Date.parse(authState.saved_at);
    const now = this.now();
    if (!(savedAt > now + FUTURE_SAVED_AT_TOLERANCE_MS)) return;
    this.log.warn({ savedAt: authState.saved_at }, LOG_MESSAGES.savedAtInFuture);
    await this.store
      .writeAuthState({ ...authState, saved_at: new Date(now).toISOString() })
      .catch((err: unknown) => this.log.error({ err }, 'Could not correct saved_at in auth_state.json'));
  }

  private async validateAtStartup(epoch: number): Promise<void> {
    const outcome = await this.validationLimiter(() => this.validationAttempt(epoch));
    if (outcome !== 'done' && epoch === this.epoch && !this.stopped) this.retry.start();
  }

  /** One getMe for the authenticated session, acted on by the failure policy. 'done' when known good or gone. */
  private async validationAttempt(epoch: number): Promise<AttemptOutcome> {
    if (epoch !== this.epoch || this.stopped || this.state !== 'authenticated') return 'done';
    try {
      await this.authorized('users.getUsers', (client) => this.refreshSelf(client), 'background');
      this.observer.validation?.('valid');
      return 'done';
    } catch (err) {
      if (epoch !== this.epoch || this.stopped || !(err instanceof AccountError)) return 'done';
      switch (err.code) {
        case 'FLOOD_WAIT':
          this.observer.validation?.('flood_wait');
          return { retryAfterMs: (err.retryAfterSeconds ?? 1) * 1000 };
        case 'TELEGRAM_UNAVAILABLE':
          this.observer.validation?.('offline');
          return 'retry';
        case 'TELEGRAM_ERROR':
          // An unexpected answer: the session is not proven good, but nothing says it is dead either.
          this.observer.validation?.('error');
          this.health = health.validationFailed(this.health);
          this.log.warn({ error: err.message }, 'Session validation got an unexpected error; will retry');
          return 'retry';
        default:
          this.observer.validation?.('ended');
          return 'done'; // revoked, logged out, expired: nothing left to validate
      }
    }
  }

  // ───────────────────────────── the one failure policy ─────────────────────────────

  /**
   * Runs `call` for the authenticated session on the current client, and acts on how it fails — the same
   * way for API calls and background validation: AUTH_KEY_UNREGISTERED → one recovery, then the call again;
   * a revocation → the session is cleared; an outage → offline and the backoff loop; FLOOD_WAIT → the
   * deadline is kept on disk. Throws AccountError.
   */
  private async authorized<T>(method: string, call: (client: TelegramClient) => Promise<T>, mode: CallMode): Promise<T> {
    let recoveryTried = false;
    for (let attempt = 1; ; attempt++) {
      if (this.expireIfIdle() || this.state !== 'authenticated') throw this.notAuthenticatedError();
      const epoch = this.epoch;
      const wait = floodWaitRemainingSeconds(this.store, method, this.now());
      if (wait > 0) throw new AccountError('FLOOD_WAIT', `Telegram asked to wait ${wait} s before ${method}`, wait);
      let client: TelegramClient | undefined;
      try {
        client = await this.clients.ensure();
        const result = await call(client);
        if (epoch === this.epoch) {
          this.contactConfirmed();
          this.runUpdates(client);
        }
        return result;
      } catch (err) {
        if (err instanceof AccountError) throw err;
        if (epoch !== this.epoch || err instanceof SessionEndingError) throw await this.sessionEndedError();
        const failure = classifiedOf(err);
        if (failure.kind === 'network' && client && this.clients.replaced(client) && attempt < MAX_CALL_ATTEMPTS) {
          // A recovery started elsewhere dropped the client under this call: the failure says nothing about
          // Telegram. Wait for that recovery's outcome and ask again on the client it leaves.
          await this.recovery?.catch(() => undefined);
          continue;
        }
        switch (failure.kind) {
          case 'auth_key_unregistered': {
            if (recoveryTried) break;
            recoveryTried = true;
            const outcome = await this.recover(epoch, failure.text);
            if (outcome === 'recovered') continue;
            if (outcome === 'inconclusive') throw new AccountError('TELEGRAM_UNAVAILABLE', 'Telegram cannot be reached right now');
            throw await this.sessionEndedError();
          }
          case 'revoked':
            await this.mutex.run(() => this.markRevoked(epoch, failure.text));
            throw new AccountError('SESSION_REVOKED', `Telegram revoked the session (${failure.text})`);
          case 'network':
            this.markOffline(failure.text);
            break;
          case 'flood_wait':
            await this.recordFloodWaitQuietly(method, failure.seconds);
            break;
          default:
            if (mode === 'api') this.contactConfirmed(); // Telegram answered: the session itself is fine
        }
        throw toAccountError(err);
      }
    }
  }

  /**
   * The session is known to be logged in: mtcute's updates loop runs on its client (started once per client;
   * again if mtcute stopped it), catching up from the journaled state — or, with none, from just before now.
   */
  private runUpdates(client: TelegramClient): void {
    if (!this.events || this.state !== 'authenticated' || this.clients.replaced(client)) return;
    loadTelegram()
      .then((telegram) => telegram.startUpdatesLoopAtHorizon(client, (request) => this.call(client, request)))
      .catch((err: unknown) => this.log.warn({ err }, 'Could not start the updates loop; the next request tries again'));
  }

  /** Telegram answered for the session: valid and online (and the restore confirmed, said once). */
  private contactConfirmed(): void {
    const wasOffline = this.health.connection === 'offline';
    const unconfirmed = this.health.restoreUnconfirmed;
    this.health = health.confirmed(this.health, this.now());
    this.retry.stop();
    this.armProbe();
    if (unconfirmed) {
      this.log.info({ phone: this.maskedPhone(), userId: this.user?.id }, LOG_MESSAGES.sessionRestored);
    } else if (wasOffline) {
      this.log.info({ phone: this.maskedPhone() }, LOG_MESSAGES.connectionRestored);
    }
  }

  /** Telegram answered a ping: the connection is up, so the idle probe can wait (see armProbe). */
  private pongSeen(): void {
    if (this.state === 'authenticated' && this.health.connection === 'online') this.health = health.answered(this.health, this.now());
  }

  private markOffline(detail: string): void {
    if (this.state !== 'authenticated') return;
    if (this.health.connection !== 'offline') {
      this.log.warn({ phone: this.maskedPhone(), error: detail }, LOG_MESSAGES.telegramUnreachable);
    }
    this.health = health.offline(this.health);
    if (!this.stopped) this.retry.start();
  }

  /**
   * While nothing else talks to Telegram, status would keep saying `online` through an outage: a session
   * Telegram has not answered for HEALTH_PROBE_INTERVAL — no call, and no pong to mtcute's pings (about one a
   * minute) — is asked (getMe), so status says what is known.
   */
  private armProbe(delay?: number): void {
    clearTimeout(this.probeTimer);
    const interval = this.probeIntervalMs();
    if (interval <= 0 || this.stopped || this.state !== 'authenticated') return;
    this.probeTimer = setTimeout(() => {
      const silentFor = this.now() - (this.health.lastContactAt ?? 0);
      // Telegram answered meanwhile: ask once it has been silent for the interval.
      if (silentFor < interval * 0.9) return this.armProbe(interval - silentFor);
      if (this.retry.active) return; // the backoff loop is already asking
      void this.validationAttempt(this.epoch).then((outcome) => {
        if (outcome !== 'done' && !this.stopped) this.retry.start();
      });
      // A first wait of ±10 %: many accounts restored together do not probe together.
    }, delay ?? Math.round(interval * (0.9 + Math.random() * 0.2)));
    this.probeTimer.unref();
  }

  // ───────────────────────────── expiry ─────────────────────────────

  private expiresAt(authState = this.store.authState()): number | null {
    return authState ? authStateExpiresAt(authState, this.config.sessionMaxIdleMs, this.savedAtMs(authState)) : null;
  }

  /** saved_at in ms, parsed once per value. */
  private savedAtMs(authState: AuthStateFile): number {
    let memo = this.savedAt;
    if (memo?.text !== authState.saved_at) memo = this.savedAt = { text: authState.saved_at, ms: Date.parse(authState.saved_at) };
    return memo.ms;
  }

  /**
   * SESSION_MAX_IDLE applies while running too: an authenticated session whose last activity is older
   * than the limit becomes `expired` (client closed, files kept as at start-up). Returns whether it did.
   */
  private expireIfIdle(expiresAt = this.state === 'authenticated' ? this.expiresAt() : null): boolean {
    if (this.state !== 'authenticated') return false;
    if (expiresAt === null || expiresAt > this.now()) return false;
    this.epoch++;
    this.retry.stop();
    clearTimeout(this.probeTimer);
    clearTimeout(this.expiryTimer);
    this.health = health.NO_SESSION;
    this.setState('expired', 'SESSION_MAX_IDLE');
    this.log.info({ expiresAt: new Date(expiresAt).toISOString() }, LOG_MESSAGES.sessionExpired);
    void this.mutex.run(() => this.clients.drop());
    return true;
  }

  private armExpiryTimer(): void {
    clearTimeout(this.expiryTimer);
    const expiresAt = this.expiresAt();
    if (expiresAt === null || this.stopped) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - this.now()) + 10);
    this.expiryTimer = setTimeout(() => {
      if (!this.expireIfIdle()) this.armExpiryTimer();
    }, delay);
    this.expiryTimer.unref();
  }

  touch(): void {
    if (this.state !== 'authenticated' || this.touching || this.stopped) return;
    // Every request touches: answer "not due yet" without the store's promise chain. Not due within
    // SESSION_MAX_IDLE too, so not expired either (what expireIfIdle below would find).
    const authState = this.store.authState();
    const interval = touchIntervalMs(this.config.sessionMaxIdleMs);
    const notDueFor = this.config.sessionMaxIdleMs > 0 ? Math.min(interval, this.config.sessionMaxIdleMs) : interval;
    if (authState && this.now() - this.savedAtMs(authState) < notDueFor) return;
    if (this.expireIfIdle()) return;
    this.touching = true;
    this.store
      .touchAuthState(new Date(this.now()), touchIntervalMs(this.config.sessionMaxIdleMs))
      .then((wrote) => {
        if (wrote) this.armExpiryTimer();
      })
      .catch((err: unknown) => this.log.warn({ err }, 'Could not refresh auth_state.json'))
      .finally(() => {
        this.touching = false;
      });
  }

  // ───────────────────────────── recovery / revocation ─────────────────────────────

  /** Single-flight recovery (validation and a request may both hit AUTH_KEY_UNREGISTERED); resolves to what happened. */
  private recover(epoch: number, trigger: string): Promise<RecoveryOutcome> {
    this.recovery ??= this.mutex
      .run(() => this.recoverExclusive(epoch, trigger))
      .finally(() => {
        this.recovery = null;
      });
    return this.recovery;
  }

  private async recoverExclusive(epoch: number, trigger: string): Promise<RecoveryOutcome> {
    if (epoch !== this.epoch || this.state !== 'authenticated') return 'gone';
    const result = await recoverSession(
      {
        store: this.store,
        logger: this.log,
        dropClient: () => this.clients.drop(),
        getMeWithFreshClient: async () => this.getMe(await this.clients.ensure()),
        clearDeadSession: () => this.clearDeadSession(),
      },
      trigger,
    );
    this.observer.recovery?.(result.outcome);
    switch (result.outcome) {
      case 'recovered':
        this.user = toPublicUser(result.user);
        this.contactConfirmed();
        return 'recovered';
      case 'failed':
        this.endSession('logged_out', result.reason);
        return 'gone';
      case 'revoked':
        await this.markRevoked(epoch, result.reason);
        return 'gone';
      case 'inconclusive':
        this.markOffline(result.error.text);
        return 'inconclusive';
    }
  }

  /** SESSION_REVOKED, USER_DEACTIVATED(_BAN), AUTH_KEY_DUPLICATED, SESSION_EXPIRED: the session is dead. Call under the mutex. */
  private async markRevoked(epoch: number, reason: string): Promise<void> {
    if (epoch !== this.epoch || this.state !== 'authenticated') return;
    this.epoch++;
    this.retry.stop();
    this.log.warn({ phone: this.maskedPhone(), reason }, LOG_MESSAGES.sessionRevoked);
    this.observer.revocation?.(reason);
    await this.clients.drop();
    await this.clearDeadSession();
    this.endSession('revoked', reason);
  }

  /** Leaves the authenticated state for good (the files were already dealt with). */
  private endSession(next: 'logged_out' | 'revoked', reason?: string): void {
    this.clients.resume();
    this.epoch++;
    this.retry.stop();
    clearTimeout(this.probeTimer);
    clearTimeout(this.expiryTimer);
    this.user = null;
    this.health = health.NO_SESSION;
    this.setState(next, reason);
  }

  /** Removes the dead session's files; no client is built until the account's state moves on (resume). */
  private async clearDeadSession(): Promise<void> {
    await this.clients.suspend();
    await this.store.removeAuthState();
    await this.clearSessionKeepingFloodWaits();
    // The update state belongs to the session that ended; the next login starts its own.
    await this.events?.reset();
  }

  /** Clears session.json, but a FLOOD_WAIT deadline outlives the session it was earned on. */
  private async clearSessionKeepingFloodWaits(): Promise<void> {
    const floodWaits = activeFloodWaits(this.store, this.now());
    await this.store.clearSession();
    if (Object.keys(floodWaits).length > 0) await this.store.updateMeta({ floodWaits });
  }

  // ───────────────────────────── login ─────────────────────────────

  sendCode(phone: string): Promise<CodeSent | Authenticated> {
    return this.exclusive(async () => {
      const normalized = normalizePhone(phone);
      if (!normalized) throw new AccountError('PHONE_NUMBER_INVALID', 'The phone number is not valid');
      this.expireIfIdle();
      if (this.state === 'authenticated') throw new AccountError('ALREADY_AUTHENTICATED', 'Already logged in; log out first');
      const inProgress = this.store.meta()?.pendingLogin;
      if (inProgress && inProgress.phone !== normalized && (this.state === 'code_sent' || this.state === 'password_required')) {
        throw new AccountError(
          'LOGIN_IN_PROGRESS',
          `A login for ${maskPhone(inProgress.phone)} is in progress; finish it, or cancel it with logout, before logging in another number`,
        );
      }
      this.spendLoginBudget();
      if (this.state === 'expired') await this.discardExpiredSession();
      // A new login cancels a QR login in progress.
      if (this.qr || this.store.meta()?.qrLogin) await this.discardQrLogin();
      const client = await this.loginClient();
      const offered = tokensToOffer(this.store.futureAuthTokens(), normalized);
      const result = await this.loginStep(() => login.requestCode(client, normalized, offered));
      if (result.kind === 'authorized') {
        this.log.info({ phone: maskPhone(normalized) }, LOG_MESSAGES.futureTokenLogin);
        return this.completeLogin(result.user, normalized, 'future_auth_token');
      }
      if (result.tokensRefused) {
        this.log.warn({ phone: maskPhone(normalized) }, LOG_MESSAGES.futureTokensRefused);
        await this.store.saveFutureAuthTokens(withoutOffered(this.store.futureAuthTokens(), normalized));
      }
      await this.persistPendingLogin(result.pending);
      this.codeGuard.reset();
      this.unresolvedLoginStep = false;
      this.reason = undefined;
      this.setState('code_sent');
      this.log.info({ phone: maskPhone(normalized), codeType: result.pending.codeType }, 'Login code sent');
      return codeSentAnswer(result.pending);
    });
  }

  resendCode(): Promise<CodeSent> {
    return this.exclusive(async () => {
      const pending = this.pendingLoginFor('code_sent', 'resend-code');
      this.spendLoginBudget();
      const client = await this.loginClient();
      const next = await this.loginStep(() => login.resendCode(client, pending));
      await this.persistPendingLogin(next);
      this.log.info({ phone: maskPhone(next.phone), codeType: next.codeType }, 'Login code re-sent');
      return codeSentAnswer(next);
    });
  }

  verifyCode(code: string): Promise<Authenticated | PasswordRequired> {
    return this.exclusive(async () => {
      const pending = this.pendingLoginFor('code_sent', 'verify-code');
      if (typeof code !== 'string' || code.trim() === '') throw new AccountError('PHONE_CODE_EMPTY', 'The login code is empty');
      const trimmed = code.trim();
      if (trimmed.length > 64) throw new AccountError('PHONE_CODE_INVALID', 'The login code is invalid');
      this.checkGuard(this.codeGuard, 'login codes');
      this.spendLoginBudget();
      const client = await this.loginClient();
      const earlier = await this.settleUnresolvedStep(client, pending, 'code');
      if (earlier) return earlier;
      let result: login.SignInResult;
      try {
        result = await this.loginStep(() => login.signIn(client, pending, trimmed));
      } catch (err) {
        return this.afterFailedStep(err, this.codeGuard, client, pending, 'code');
      }
      this.codeGuard.reset();
      if (result.kind === 'authorized') return this.completeLogin(result.user, pending.phone, 'code');
      return this.passwordRequired(pending, result.hint);
    });
  }

  verifyPassword(password: string): Promise<Authenticated> {
    return this.exclusive(async () => {
      // The password step of a QR login has no phone number (Telegram names the user only once it is done).
      const viaQr = this.state === 'password_required' && this.store.meta()?.qrLogin?.passwordRequired !== undefined;
      const pending = viaQr ? undefined : this.pendingLoginFor('password_required', 'verify-password');
      const method: LoginMethod = viaQr ? 'qr' : 'code';
      if (typeof password !== 'string' || password === '' || password.length > 1024) {
        throw new AccountError('PASSWORD_HASH_INVALID', 'The password is invalid');
      }
      this.checkGuard(this.passwordGuard, '2FA passwords');
      this.spendLoginBudget();
      const client = await this.loginClient();
      const earlier = await this.settleUnresolvedStep(client, pending, method);
      if (earlier?.state === 'authenticated') return earlier;
      let user: tl.RawUser;
      try {
        user = await this.loginStep(() => login.checkPassword(client, password));
      } catch (err) {
        const settled = await this.afterFailedStep(err, this.passwordGuard, client, pending, method);
        if (settled.state === 'authenticated') return settled;
        throw err; // still waiting for the password: the failure stands
      }
      this.passwordGuard.reset();
      return this.completeLogin(user, pending?.phone, method);
    });
  }

  /**
   * A step that changes the login at Telegram (signIn, checkPassword) failed. A wrong guess counts against
   * the account's guard. A failure for want of an answer may still have gone through: Telegram is asked what
   * the session is now before answering, so the answer is the truth — a completed login is completed here
   * too, and a retry never meets a spent code. Returns the settled outcome, or throws.
   */
  private async afterFailedStep(
    err: unknown,
    guard: AttemptGuard,
    client: login.LoginClient,
    pending: PendingLogin | undefined,
    method: LoginMethod,
  ): Promise<Authenticated | PasswordRequired> {
    if (err instanceof AccountError && (err.code === 'PHONE_CODE_INVALID' || err.code === 'PASSWORD_HASH_INVALID')) guard.failed();
    if (!(err instanceof AccountError) || err.code !== 'TELEGRAM_UNAVAILABLE') throw err;
    this.unresolvedLoginStep = true;
    const settled = await this.settleUnresolvedStep(client, pending, method);
    if (!settled) throw err; // Telegram says nothing happened: "nothing was changed" is true
    return settled;
  }

  /**
   * After a state-changing step ended without an answer: where does the login stand at Telegram? Completes
   * it here when Telegram says the session is logged in (or moves on to the password step); undefined when
   * nothing happened (the step can be tried again). Throws LOGIN_OUTCOME_UNKNOWN when Telegram still cannot
   * be asked. `pending` is the code login in progress (none for a QR login's password step).
   */
  private async settleUnresolvedStep(
    client: login.LoginClient,
    pending: PendingLogin | undefined,
    method: LoginMethod,
  ): Promise<Authenticated | PasswordRequired | undefined> {
    if (!this.unresolvedLoginStep) return undefined;
    const outcome = await login.whereLoginStands(client);
    if (outcome.kind === 'unknown') {
      throw new AccountError(
        'LOGIN_OUTCOME_UNKNOWN',
        'Telegram did not answer the login step in time and cannot be asked what became of it; ' +
          'retry the same step (the service asks Telegram first) or check status',
      );
    }
    this.unresolvedLoginStep = false;
    switch (outcome.kind) {
      case 'authorized':
        this.log.info({ phone: this.maskedPhone() }, LOG_MESSAGES.loginStepWentThrough);
        return this.completeLogin(outcome.user, pending?.phone, method);
      case 'password_required':
        return this.state === 'password_required' || !pending ? undefined : this.passwordRequired(pending, outcome.hint);
      case 'not_authorized':
        return undefined;
    }
  }

  private async passwordRequired(pending: PendingLogin, hint: string | null): Promise<PasswordRequired> {
    await this.persistPendingLogin({ ...pending, passwordRequired: { hint: hint ?? undefined } });
    this.setState('password_required');
    return { state: 'password_required', hint };
  }

  private checkGuard(guard: AttemptGuard, what: string): void {
    const wait = guard.waitSeconds();
    if (wait > 0) throw new AccountError('TOO_MANY_ATTEMPTS', `Too many wrong ${what} for this account; retry in ${wait} s`, wait);
  }

  private spendLoginBudget(): void {
    const wait = this.loginBudget.take();
    if (wait > 0) throw new AccountError('RATE_LIMITED', `Too many login requests for this account; retry in ${wait} s`, wait);
  }

  private pendingLoginFor(expected: 'code_sent' | 'password_required', step: string): PendingLogin {
    const pending = this.store.meta()?.pendingLogin;
    if (this.state !== expected || !pending) {
      const hint =
        this.state === 'password_required' ? 'the 2FA password is expected (verify-password)'
        : this.state === 'code_sent' ? 'a login code is expected (verify-code)'
        : this.state === 'authenticated' ? 'already logged in'
        : 'send a login code first (send-code)';
      throw new AccountError('INVALID_STEP', `${step} is not possible now: ${hint}`);
    }
    return pending;
  }

  private async completeLogin(raw: tl.RawUser, phone: string | undefined, method: LoginMethod): Promise<Authenticated> {
    this.epoch++;
    this.qr = null;
    const user = toPublicUser(raw);
    user.phone ??= phone ?? null;
    try {
      await this.store.writeAuthState({
        user_auth: true,
        user_id: raw.id,
        phone: user.phone ?? '',
        saved_at: new Date(this.now()).toISOString(),
        version: '1.0',
      });
    } catch (err) {
      // Logged in at Telegram either way; status reports the persistence error and the store retries.
      this.log.error({ err }, 'Could not write auth_state.json after login');
    }
    await this.persistLoginMeta({ pendingLogin: undefined, qrLogin: undefined, loginMethod: method });
    this.codeGuard.reset();
    this.passwordGuard.reset();
    this.unresolvedLoginStep = false;
    this.user = user;
    this.health = health.freshLogin(this.now());
    this.reason = undefined;
    this.setState('authenticated');
    this.armExpiryTimer();
    this.armProbe();
    return { state: 'authenticated', user, loginMethod: method };
  }

  private persistPendingLogin(pending: PendingLogin | undefined): Promise<void> {
    return this.persistLoginMeta({ pendingLogin: pending });
  }

  private async persistLoginMeta(patch: Partial<SessionMeta>): Promise<void> {
    try {
      await this.store.updateMeta(patch);
    } catch (err) {
      this.log.error({ err }, 'Could not persist the login in progress; it will not survive a restart');
    }
  }

  /** Keeps a future auth token Telegram handed out (a failed write is logged by the store). */
  private async keepFutureAuthToken(earned: EarnedToken): Promise<void> {
    try {
      await keepToken(this.store, earned, new Date(this.now()));
    } catch (err) {
      this.log.warn({ error: (err as Error).name }, 'Could not keep the future auth token');
    }
  }

  /**
   * auth.logOut for the current key (best effort), keeping the future auth token Telegram hands out with
   * it. Returns how it went: 'done', 'gone' (the authorization was already gone) or the failure's text.
   */
  private async logOutAtTelegram(): Promise<{ kind: 'done' | 'gone' | 'failed'; text: string }> {
    try {
      const out = await this.call(await this.clients.ensure(), { _: 'auth.logOut' });
      if (out.futureAuthToken) await this.keepFutureAuthToken({ token: out.futureAuthToken, phone: this.user?.phone, userId: this.user?.id });
      return { kind: 'done', text: 'OK' };
    } catch (err) {
      const failure = classifiedOf(err);
      return { kind: failure.kind === 'auth_key_unregistered' || failure.kind === 'revoked' ? 'gone' : 'failed', text: failure.text };
    }
  }

  /**
   * Leaving `expired` for a new login: the old authorization is logged out at Telegram (best effort, so it
   * does not linger in Active sessions) and the old key and auth state are dropped (the seed keeps the
   * files only until the user logs in again).
   */
  private async discardExpiredSession(): Promise<void> {
    this.epoch++;
    if (this.store.hasSession()) {
      const out = await this.logOutAtTelegram();
      if (out.kind === 'done') this.log.info({ phone: this.maskedPhone() }, 'Expired session logged out at Telegram before a new login');
      else this.log.info({ error: out.text }, 'Could not log the expired session out at Telegram; dropping it locally');
    }
    await this.clients.drop();
    await this.clearDeadSession();
    this.clients.resume(); // the new login builds its client
    this.user = null;
    this.health = health.NO_SESSION;
  }

  // ───────────────────────────── QR login ─────────────────────────────

  /**
   * Starts a QR login. Not while logged in, nor while a login by code is under way (finish it or log out);
   * a QR login in progress is replaced (a new code, a new key). Answers with the first code, once
   * Telegram gave it; the loop then runs in the background (runQrLogin) until the code is scanned.
   */
  async startQrLogin(): Promise<QrPending | Authenticated | PasswordRequired> {
    const { first } = await this.exclusive(async () => {
      this.expireIfIdle();
      if (this.state === 'authenticated') throw new AccountError('ALREADY_AUTHENTICATED', 'Already logged in; log out first');
      const byCode = this.store.meta()?.pendingLogin;
      if (byCode && (this.state === 'code_sent' || this.state === 'password_required')) {
        throw new AccountError(
          'LOGIN_IN_PROGRESS',
          `A login by code for ${maskPhone(byCode.phone)} is in progress; finish it, or cancel it with logout, before a QR login`,
        );
      }
      this.spendLoginBudget();
      if (this.state === 'expired') await this.discardExpiredSession();
      if (this.qr || this.store.meta()?.qrLogin) await this.discardQrLogin();
      await this.clients.drop(); // the QR loop uses a client of its own, on the key the store holds
      const startedAt = this.now();
      await this.persistLoginMeta({ pendingLogin: undefined, qrLogin: { startedAt: new Date(startedAt).toISOString() } });
      this.unresolvedLoginStep = false;
      this.setState('qr_pending');
      // Not awaited here: the loop's outcome is applied under this mutex.
      return { first: this.launchQrLogin(startedAt, false) };
    });
    return first;
  }

  qrCode(): QrPending {
    const code = this.state === 'qr_pending' ? this.qr?.code : undefined;
    if (!code) {
      const hint = this.state === 'qr_pending' ? 'the first QR code is being fetched; try again in a moment' : 'start one with POST …/auth/qr';
      throw new AccountError('INVALID_STEP', `No QR code to show: ${hint}`);
    }
    return { state: 'qr_pending', ...code };
  }

  /** A restart while a QR login was under way: a new code is fetched (or the 2FA password is awaited). */
  private restoreQrLogin(qrLogin: PendingQrLogin): void {
    if (qrLogin.passwordRequired) {
      this.log.info({}, LOG_MESSAGES.qrPasswordRestored);
      this.setState('password_required');
      return;
    }
    this.log.info({}, LOG_MESSAGES.qrRestored);
    this.setState('qr_pending');
    const startedAt = Date.parse(qrLogin.startedAt);
    this.launchQrLogin(Number.isNaN(startedAt) ? this.now() : startedAt, true).catch(() => undefined);
  }

  /**
   * Runs the QR login loop on the account's client, in the background. Resolves with the first code (or
   * with the outcome, should Telegram answer without showing one); rejects when the attempt ends before a
   * code was shown. Its outcome or failure is applied under the mutex, unless the attempt was cancelled.
   */
  private launchQrLogin(startedAt: number, retryBeforeFirstCode: boolean): Promise<QrPending | Authenticated | PasswordRequired> {
    const attempt: QrAttempt = { epoch: this.epoch, startedAt, controller: new AbortController(), code: null, scanned: false, ended: Promise.resolve() };
    this.qr = attempt;
    return new Promise((resolve, reject) => {
      const loop = async (): Promise<QrOutcome> => {
        // Its own client, which hears Telegram's pushes; destroyed when the loop ends, whatever the end, so
        // no client of an aborted attempt is ever used again. The key stays in the store for the next one.
        const client = await this.createClient({ rawUpdates: true });
        try {
          return await this.runQrLoop(attempt, client, retryBeforeFirstCode, resolve);
        } finally {
          await client.destroy().catch((err: unknown) => this.log.warn({ err }, 'Error while closing the QR login client'));
        }
      };
      const running = loop();
      attempt.ended = running.then(
        () => undefined,
        () => undefined,
      );
      running.then(
        (outcome) => this.mutex.run(() => this.finishQrLogin(attempt, outcome)).then(resolve, reject),
        (err: unknown) => this.mutex.run(() => this.failQrLogin(attempt, err)).then(reject, reject),
      );
    });
  }

  private runQrLoop(
    attempt: QrAttempt,
    client: TelegramClient,
    retryBeforeFirstCode: boolean,
    firstCode: (code: QrPending) => void,
  ): Promise<QrOutcome> {
    const timeoutMs = this.config.qrLoginTimeoutMs ?? DEFAULT_QR_LOGIN_TIMEOUT_MS;
    return runQrLogin({
      client: this.qrLoginClient(client, attempt.controller.signal),
      signal: attempt.controller.signal,
      retryBeforeFirstCode,
      ...(timeoutMs > 0 ? { deadline: attempt.startedAt + timeoutMs } : {}),
      retryCapMs: this.config.retryMaxDelayMs,
      now: this.now,
      onCode: (code) => {
        if (attempt.code) this.log.debug({ expiresAt: code.expiresAt }, LOG_MESSAGES.qrCodeRenewed);
        else this.log.info({ expiresAt: code.expiresAt }, LOG_MESSAGES.qrCodeReady);
        attempt.code = code;
        this.health = { ...this.health, connection: 'online' };
        firstCode({ state: 'qr_pending', ...code });
      },
      onScanned: () => {
        attempt.scanned = true;
        this.log.info({}, LOG_MESSAGES.qrScanned);
      },
    });
  }

  /** The QR code was scanned: logged in, or the 2FA password is asked for. Under the mutex. */
  private async finishQrLogin(attempt: QrAttempt, outcome: QrOutcome): Promise<Authenticated | PasswordRequired> {
    if (attempt !== this.qr || attempt.epoch !== this.epoch) throw qrCancelledError();
    this.qr = null;
    this.observer.loginAttempt?.('qr-scan', outcome.kind === 'authorized' ? 'authenticated' : 'password_required');
    if (outcome.kind === 'authorized') {
      this.log.info({ phone: outcome.user.phone ? maskPhone(outcome.user.phone) : undefined }, LOG_MESSAGES.qrLoggedIn);
      const done = await this.completeLogin(outcome.user, undefined, 'qr');
      this.startAccountClient(this.epoch);
      return done;
    }
    await this.persistLoginMeta({ qrLogin: { startedAt: new Date(attempt.startedAt).toISOString(), passwordRequired: { hint: outcome.hint ?? undefined } } });
    this.setState('password_required');
    return { state: 'password_required', hint: outcome.hint };
  }

  /**
   * A QR login's session was made by its own client (now gone): the account's client starts at once, as
   * after a code login, so its updates — the events — run from the login on, not from the first request.
   */
  private startAccountClient(epoch: number): void {
    this.clients
      .ensure()
      .then((client) => {
        if (epoch === this.epoch) this.runUpdates(client);
      })
      .catch((err: unknown) => this.log.warn({ err }, 'Could not start the account’s client after the QR login; the next request starts it'));
  }

  /** The QR login failed (or QR_LOGIN_TIMEOUT passed): back to logged_out, its key dropped. Under the mutex. */
  private async failQrLogin(attempt: QrAttempt, err: unknown): Promise<AccountError> {
    if (attempt !== this.qr || attempt.epoch !== this.epoch) return qrCancelledError();
    const error = toAccountError(err);
    this.observer.loginAttempt?.('qr-scan', error.code);
    this.log.warn({ error: error.code }, LOG_MESSAGES.qrEnded(error.message));
    await this.discardQrLogin();
    this.setState('logged_out', error.code);
    return error;
  }

  /** Stops the QR loop (if one runs); returns whether its code had been scanned. */
  private stopQrLoop(): boolean {
    const attempt = this.qr;
    this.qr = null;
    attempt?.controller.abort(new DOMException('The QR login was cancelled', 'AbortError'));
    return attempt?.scanned ?? false;
  }

  /**
   * Ends the QR login in progress (also one waiting for its 2FA password): the loop stops and its client
   * and key are dropped, never used again (mtcute 0.30's own signInQr can still switch DCs after an
   * abort; a fresh client is the safe answer). A scanned code may have authorized the key: logged out first.
   */
  private async discardQrLogin(): Promise<void> {
    this.epoch++;
    const scanned = this.stopQrLoop();
    if (scanned && this.store.hasSession()) await this.logOutAtTelegram();
    await this.clients.drop();
    await this.clearSessionKeepingFloodWaits();
  }

  /** The QR loop's view of its client: as the login client, stopped by `signal` too, plus DC changes and pushes. */
  private qrLoginClient(client: TelegramClient, signal: AbortSignal): QrLoginClient {
    return {
      ...this.loginClientOf(client, signal),
      changePrimaryDc: (dcId) => withTimeout(client.changePrimaryDc(dcId), this.config.clientReadyTimeoutMs, 'changePrimaryDc'),
      onLoginTokenUpdate: (listener) => {
        const onUpdate = (update: tl.TypeUpdates): void => {
          if (update._ === 'updateShort' && update.update._ === 'updateLoginToken') listener();
        };
        client.onServerUpdate.add(onUpdate);
        return () => client.onServerUpdate.remove(onUpdate);
      },
    };
  }

  // ───────────────────────────── logout / me / stop ─────────────────────────────

  /**
   * auth.logOut at Telegram, then the files go. If Telegram cannot be reached the local session is removed
   * anyway: a user who asks to log out wants the session gone from this machine (the authorization may then
   * stay listed under Active sessions until Telegram expires it or the user terminates it from another app).
   */
  logout(): Promise<{ state: 'logged_out' }> {
    return this.exclusive(async () => {
      this.epoch++;
      this.retry.stop();
      const qrScanned = this.stopQrLoop();
      // A login step that got no answer, or a scanned QR code, may have authorized the key: log it out
      // too, never leave it behind.
      const mayBeAuthorized = this.state === 'authenticated' || this.state === 'expired' || this.unresolvedLoginStep || qrScanned;
      if (mayBeAuthorized && this.store.hasSession()) {
        const out = await this.logOutAtTelegram();
        if (out.kind === 'done') {
          this.log.info({ phone: this.maskedPhone() }, 'Logged out at Telegram');
        } else if (out.kind === 'gone') {
          this.log.info({ reason: out.text }, 'The authorization was already gone at Telegram');
        } else {
          this.log.warn(
            { phone: this.maskedPhone(), error: out.text },
            LOG_MESSAGES.logoutAtTelegramFailed,
          );
        }
      }
      this.unresolvedLoginStep = false;
      await this.clients.drop();
      await this.clearDeadSession();
      this.endSession('logged_out');
      return { state: 'logged_out' as const };
    });
  }

  me(): Promise<PublicUser> {
    return this.authorized('users.getUsers', (client) => this.refreshSelf(client), 'api');
  }

  /** getMe, keeping the account's user up to date with Telegram's answer. */
  private async refreshSelf(client: TelegramClient): Promise<PublicUser> {
    const epoch = this.epoch;
    const user = toPublicUser(await this.getMe(client));
    if (epoch === this.epoch) this.user = user;
    return user;
  }

  async stop(opts: { drainMs?: number } = {}): Promise<void> {
    if (this.stopped) return;
    if (opts.drainMs) {
      // Handing the account to another instance: a login step or logout under way finishes first.
      await Promise.race([this.mutex.run(() => Promise.resolve()), new Promise((resolve) => setTimeout(resolve, opts.drainMs).unref())]);
      if (this.stopped) return;
    }
    this.stopped = true;
    this.epoch++;
    this.retry.stop();
    clearTimeout(this.probeTimer);
    clearTimeout(this.expiryTimer);
    this.stopController.abort(new DOMException('The service is stopping', 'AbortError'));
    // A QR login stops with its client closed; its place in session.json stays, so the next start goes on.
    const qr = this.qr;
    this.stopQrLoop();
    await qr?.ended;
    // Let a login step in flight finish (it was aborted above), then disconnect, which writes mtcute's state,
    // then write what is still pending.
    await this.mutex.run(() => this.clients.close());
    await this.store.close();
  }

  // ───────────────────────────── status ─────────────────────────────

  status(): AccountStatus {
    const authState = this.store.authState();
    const expiresAt = this.expiresAt(authState);
    this.expireIfIdle(expiresAt);
    const authenticated = this.state === 'authenticated';
    const meta = this.store.meta();
    const floodWaitUntil = latestFloodWait(meta, this.now());
    const persistenceError = this.store.persistenceError();
    // Built by assignment, not spreads of optional parts: it is on every GET status.
    const status: AccountStatus = {
      id: this.id,
      state: this.state,
      authenticated,
      environment: this.config.environment,
      user: authenticated && this.user ? this.publicUser(this.user) : null,
      session: {
        restored: authenticated && this.health.restored,
        savedAt: authState?.saved_at ?? null,
        expiresAt: expiresAt === null ? null : this.expiresAtIso(expiresAt),
        validation: authenticated ? this.health.validation : null,
        lastValidatedAt: authenticated ? this.health.lastValidatedAt : null,
        connection: this.clients.current() || authenticated || this.qr ? this.health.connection : 'offline',
        loginMethod: authenticated ? (meta?.loginMethod ?? null) : null,
      },
    };
    if (this.state === 'qr_pending' && this.qr?.code) status.qr = { ...this.qr.code };
    if (this.state === 'password_required') status.hint = this.passwordHint();
    if (this.reason) status.reason = this.reason;
    if (floodWaitUntil) status.floodWaitUntil = new Date(floodWaitUntil).toISOString();
    if (persistenceError) status.persistenceError = persistenceError;
    return this.statusExtras ? Object.assign(status, this.statusExtras()) : status;
  }

  /** The user as status shows it (phone masked), made once per user: status is read on every GET status. */
  private publicUser(user: PublicUser): PublicUser {
    if (this.maskedUser?.of !== user) this.maskedUser = { of: user, masked: Object.freeze(withMaskedPhone(user)) };
    return this.maskedUser.masked;
  }

  private expiresAtIso(ms: number): string {
    if (this.expiresAtText?.ms !== ms) this.expiresAtText = { ms, text: new Date(ms).toISOString() };
    return this.expiresAtText.text;
  }

  // ───────────────────────────── plumbing ─────────────────────────────

  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new AccountError('TELEGRAM_UNAVAILABLE', 'The service is shutting down'));
    return this.mutex.run(operation);
  }

  private setState(next: AccountState, reason?: string): void {
    const previous = this.state;
    this.state = next;
    this.reason = reason;
    const from = this.initialStateLogged ? previous : 'start-up';
    this.initialStateLogged = true;
    this.log.info({ from, to: next, phone: this.maskedPhone(), ...(reason ? { reason } : {}) }, LOG_MESSAGES.accountState(next));
  }

  private notAuthenticatedError(): AccountError {
    if (this.state === 'revoked') return new AccountError('SESSION_REVOKED', `Telegram revoked the session (${this.reason ?? 'revoked'})`);
    if (this.state === 'expired') return new AccountError('SESSION_EXPIRED', 'The session expired (no API activity for SESSION_MAX_IDLE); log in again');
    return new AccountError('NOT_AUTHENTICATED', 'Not logged in');
  }

  /**
   * The answer for a call whose session ended while it waited on Telegram. Every call that ran into the same
   * revocation gets the same answer (SESSION_REVOKED), not only the one that noticed it first.
   */
  private async sessionEndedError(): Promise<AccountError> {
    // A transition in progress (files being cleared) finishes under the mutex; read the state after it.
    await this.mutex.run(() => Promise.resolve());
    if (this.state === 'revoked') return new AccountError('SESSION_REVOKED', `Telegram revoked the session (${this.reason ?? 'revoked'})`);
    if (this.state === 'authenticated') return new AccountError('NOT_AUTHENTICATED', 'The session changed while asking Telegram; try again');
    if (this.state === 'expired') return this.notAuthenticatedError();
    return new AccountError('NOT_AUTHENTICATED', 'The session is no longer valid; log in again');
  }

  private passwordHint(): string | null {
    const meta = this.store.meta();
    return (meta?.pendingLogin ?? meta?.qrLogin)?.passwordRequired?.hint ?? null;
  }

  private maskedPhone(): string | undefined {
    const phone = this.user?.phone ?? this.store.meta()?.pendingLogin?.phone;
    return phone ? maskPhone(phone) : undefined;
  }

  /** One bounded call; it also stops when the service stops (and when `signal` aborts, if given). */
  private async call<T extends tl.RpcMethod>(client: TelegramClient, request: T, signal?: AbortSignal): Promise<tl.RpcCallReturn[T['_']]> {
    const { callTelegram } = await loadTelegram();
    // A client dropped meanwhile (logout, recovery, revocation) is never called: its answer means nothing
    // now, and mtcute's connect on a destroyed client rejects a promise nobody can handle (its
    // asyncResettable), an unhandled rejection. The failure policy asks again on the client held now.
    if (this.clients.dropped(client)) throw new TelegramCallError(request._, { kind: 'network', text: 'CLIENT_DROPPED' });
    const stop = this.stopController.signal;
    return callTelegram(client, request, { timeoutMs: this.config.clientReadyTimeoutMs, signal: signal ? AbortSignal.any([stop, signal]) : stop });
  }

  private getMe(client: TelegramClient): Promise<tl.RawUser> {
    return login.getSelf((request) => this.call(client, request));
  }

  /** The login flow's view of the client: each call flood-guarded, bounded and classified. */
  private async loginClient(): Promise<login.LoginClient> {
    return this.loginClientOf(await this.clients.ensure());
  }

  private loginClientOf(client: TelegramClient, signal?: AbortSignal): login.LoginClient {
    return {
      apiId: this.config.telegram.apiId,
      apiHash: this.config.telegram.apiHash,
      rpc: async (request) => {
        const wait = floodWaitRemainingSeconds(this.store, request._, this.now());
        if (wait > 0) throw new AccountError('FLOOD_WAIT', `Telegram asked to wait ${wait} s before ${request._}`, wait);
        try {
          return await this.call(client, request, signal);
        } catch (err) {
          const failure = classifiedOf(err);
          if (failure.kind === 'flood_wait') await this.recordFloodWaitQuietly(request._, failure.seconds);
          if (failure.kind === 'network' && !this.clients.dropped(client)) this.health = health.offline(this.health);
          throw err;
        }
      },
      primaryDcId: () => client.getPrimaryDcId(),
      // With events, the updates loop of a fresh login starts at the login (telegram/login-horizon.ts).
      notifyLoggedIn: async (auth) =>
        this.events ? (await loadTelegram()).notifyLoggedInAtLogin(client, auth, (request) => this.call(client, request, signal)) : client.notifyLoggedIn(auth),
      computeSrpParams: (password, plain) => client.computeSrpParams(password, plain),
      keepFutureAuthToken: (token, user) => this.keepFutureAuthToken({ token, phone: user.phone, userId: user.id }),
    };
  }

  private async recordFloodWaitQuietly(method: string, seconds: number): Promise<void> {
    this.log.warn({ method, seconds }, LOG_MESSAGES.floodWait);
    this.observer.floodWait?.(method, seconds);
    await recordFloodWait(this.store, method, seconds, this.now()).catch((err: unknown) => this.log.error({ err }, 'Could not persist the FLOOD_WAIT deadline'));
  }

  /** Runs a login step; Telegram and mtcute errors become AccountErrors, state untouched. */
  private async loginStep<T>(step: () => Promise<T>): Promise<T> {
    try {
      const result = await step();
      this.health = { ...this.health, connection: 'online' };
      return result;
    } catch (err) {
      if (err instanceof AccountError) throw err;
      const accountError = toAccountError(err);
      this.log.info({ phone: this.maskedPhone(), error: accountError.code }, 'Login step refused');
      throw accountError;
    }
  }
}

function classifiedOf(err: unknown): TelegramErrorKind {
  return err instanceof TelegramCallError ? err.classified : { kind: 'telegram', text: 'UNKNOWN', code: 0 };
}

function userFromAuthState(userId: number, phone: string): PublicUser {
  return { id: userId, username: null, firstName: '', lastName: null, phone };
}

function qrCancelledError(): AccountError {
  return new AccountError('INVALID_STEP', 'The QR login was cancelled (logout, or a new login)');
}

/** `promise`, or a network-kind TelegramCallError after `ms` (mtcute's DC switch has no deadline of its own). */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TelegramCallError(what, { kind: 'network', text: 'TIMEOUT' })), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function codeSentAnswer(pending: PendingLogin): CodeSent {
  return {
    state: 'code_sent',
    phone: maskPhone(pending.phone),
    codeType: pending.codeType,
    codeLength: pending.codeLength ?? null,
    nextType: pending.nextType ?? null,
    timeout: pending.timeout ?? null,
  };
}
