/**
 * The login/session state machine: logged_out → code_sent → (password_required) → authenticated, and
 * from authenticated to expired, revoked or logged_out. The only place that decides to clear a session.
 *
 * Login steps and logout run one at a time (a mutex). Background work (validation, reconnect retries,
 * recovery) carries an epoch: a logout or a new login bumps it, and a late answer from before is dropped.
 */
import type { tl } from '@mtcute/core';
import type { TelegramClient } from '@mtcute/node';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { maskPhone } from '../logging/index.js';
import type { PendingLogin, SessionStore } from '../store/types.js';
import { createTelegramClient, type SandboxDcAddress } from '../telegram/client-factory.js';
import { callTelegram, TelegramCallError } from '../telegram/rpc.js';
import { type AttemptOutcome, RetryLoop } from './backoff.js';
import { activeFloodWaits, floodWaitRemainingSeconds, latestFloodWait, recordFloodWait } from './flood-waits.js';
import * as login from './login-flow.js';
import { Mutex } from './mutex.js';
import { normalizePhone, toPublicUser, withMaskedPhone } from './public-user.js';
import { recoverSession } from './recovery.js';
import { authStateExpiresAt, decideStartupState } from './restore.js';
import { toAccountError } from './telegram-errors.js';
import {
  AccountError,
  type AccountService,
  type AccountState,
  type AccountStatus,
  type Authenticated,
  type CodeSent,
  type PasswordRequired,
  type PublicUser,
} from './types.js';

export interface AccountServiceOptions {
  config: Config;
  store: SessionStore;
  logger: Logger;
  sandbox?: SandboxDcAddress;
}

/** saved_at in auth_state.json is refreshed by API activity at most this often. */
export const TOUCH_INTERVAL_MS = 10 * 60 * 1000;
const RETRY_BASE_MS = 1000;
/** A call retried on a fresh client after a recovery replaced the one it was using (bounded). */
const MAX_CALL_ATTEMPTS = 3;

type Validation = AccountStatus['session']['validation'];
type Connection = AccountStatus['session']['connection'];
type RecoveryOutcome = 'recovered' | 'gone' | 'inconclusive';

export function createAccountService(opts: AccountServiceOptions): AccountService {
  return new TelegramAccountService(opts);
}

class TelegramAccountService implements AccountService {
  private readonly config: Config;
  private readonly store: SessionStore;
  private readonly log: Logger;
  private readonly rootLogger: Logger;
  private readonly sandbox?: SandboxDcAddress;
  private readonly mutex = new Mutex();
  private readonly retry: RetryLoop;

  private state: AccountState = 'logged_out';
  /** The account's user, full phone (masked on the way out in status). */
  private user: PublicUser | null = null;
  private reason: string | undefined;
  private restored = false;
  /** Whether "Session restored successfully from persistent state" is still to be said for this restore. */
  private restoreUnconfirmed = false;
  private validation: Validation = null;
  private lastValidatedAt: string | null = null;
  private connection: Connection = 'offline';

  private client: TelegramClient | null = null;
  private clientPromise: Promise<TelegramClient> | null = null;
  private epoch = 0;
  private recovery: Promise<RecoveryOutcome> | null = null;
  private touching = false;
  private initialStateLogged = false;
  private stopped = false;
  private readonly stopController = new AbortController();

  constructor(opts: AccountServiceOptions) {
    this.config = opts.config;
    this.store = opts.store;
    this.rootLogger = opts.logger;
    this.log = opts.logger.child({ module: 'account' });
    this.sandbox = opts.sandbox;
    this.retry = new RetryLoop({
      baseMs: Math.min(RETRY_BASE_MS, Math.max(1, this.config.retryMaxDelayMs)),
      capMs: Math.max(1, this.config.retryMaxDelayMs),
      logger: this.log,
      what: 'Telegram connection',
      attempt: () => this.validationAttempt(this.epoch),
    });
  }

  // ───────────────────────────── start-up ─────────────────────────────

  async start(): Promise<void> {
    await this.store.load();
    await this.dropKeysOfAnotherEnvironment();
    const decision = decideStartupState(this.store, this.config.sessionMaxIdleMs);
    switch (decision.state) {
      case 'logged_out':
        if (decision.staleAuthState) {
          this.log.warn('auth_state.json found without session.json; removing it');
          await this.store.removeAuthState();
        }
        this.setState('logged_out', decision.reason);
        return;
      case 'expired':
        this.user = userFromAuthState(decision.authState.user_id, decision.authState.phone);
        this.setState('expired', 'SESSION_MAX_IDLE');
        this.log.info({ savedAt: decision.authState.saved_at }, 'Auth state older than SESSION_MAX_IDLE; log in again');
        return;
      case 'code_sent':
      case 'password_required':
        this.log.info({ phone: maskPhone(decision.pending.phone) }, 'Login in progress restored from disk');
        this.setState(decision.state);
        return;
      case 'authenticated': {
        // A kill between writing auth_state.json and clearing the login in progress leaves a stale one
        // behind; left there, a later interrupted logout would bring it back as `code_sent`.
        if (this.store.meta()?.pendingLogin) await this.persistPendingLogin(undefined);
        this.user = userFromAuthState(decision.authState.user_id, decision.authState.phone);
        this.restored = true;
        this.restoreUnconfirmed = true;
        this.validation = 'pending';
        this.connection = 'connecting';
        this.setState('authenticated');
        const epoch = this.epoch;
        void this.validateAtStartup(epoch);
        return;
      }
    }
  }

  /** A key never crosses environments: keys made for another Telegram are useless here and are dropped. */
  private async dropKeysOfAnotherEnvironment(): Promise<void> {
    const environment = this.store.meta()?.environment;
    if (!environment || environment === this.config.environment || !this.store.hasSession()) return;
    this.log.warn({ sessionEnvironment: environment, environment: this.config.environment }, 'session.json belongs to another environment; starting logged out');
    await this.store.removeAuthState();
    await this.clearSessionKeepingFloodWaits();
  }

  private async validateAtStartup(epoch: number): Promise<void> {
    const outcome = await this.validationAttempt(epoch);
    if (outcome !== 'done' && epoch === this.epoch && !this.stopped) this.retry.start();
  }

  /**
   * One getMe against Telegram for the authenticated session, acting on the answer. 'done' when the
   * session is known good or gone; otherwise when to try again.
   */
  private async validationAttempt(epoch: number): Promise<AttemptOutcome> {
    if (epoch !== this.epoch || this.stopped || this.state !== 'authenticated') return 'done';
    const wait = floodWaitRemainingSeconds(this.store, 'users.getUsers');
    if (wait > 0) return { retryAfterMs: wait * 1000 };
    let client: TelegramClient | undefined;
    try {
      client = await this.ensureClient();
      const user = await this.getMe(client);
      if (epoch !== this.epoch) return 'done';
      this.markValid(user);
      return 'done';
    } catch (err) {
      if (epoch !== this.epoch || this.stopped) return 'done';
      const classified = classifiedOf(err);
      if (classified.kind === 'network' && client && this.clientReplaced(client)) {
        // A recovery dropped the client under this attempt: its outcome, not this failure, decides.
        await this.recovery?.catch(() => undefined);
        return this.connection === 'online' && this.validation === 'valid' ? 'done' : 'retry';
      }
      switch (classified.kind) {
        case 'auth_key_unregistered':
          return (await this.recover(epoch, classified.text)) === 'inconclusive' ? 'retry' : 'done';
        case 'revoked':
          await this.mutex.run(() => this.markRevoked(epoch, classified.text));
          return 'done';
        case 'flood_wait':
          await this.recordFloodWaitQuietly('users.getUsers', classified.seconds);
          return { retryAfterMs: classified.seconds * 1000 };
        case 'network':
          this.markOffline(classified.text);
          return 'retry';
        default:
          // An unexpected answer: the session is not proven good, but nothing says it is dead either.
          this.validation = 'failed';
          this.log.warn({ error: classified.text }, 'Session validation got an unexpected error; will retry');
          return 'retry';
      }
    }
  }

  private markValid(raw: tl.RawUser): void {
    const wasOffline = this.connection === 'offline';
    this.user = toPublicUser(raw);
    this.validation = 'valid';
    this.lastValidatedAt = new Date().toISOString();
    this.connection = 'online';
    this.retry.stop();
    if (this.restoreUnconfirmed) {
      this.restoreUnconfirmed = false;
      this.log.info({ phone: this.maskedPhone(), userId: raw.id }, 'Session restored successfully from persistent state');
    } else if (wasOffline) {
      this.log.info({ phone: this.maskedPhone() }, 'Connection to Telegram restored');
    }
  }

  private markOffline(detail: string): void {
    if (this.state !== 'authenticated') return;
    if (this.connection !== 'offline') {
      this.log.warn({ phone: this.maskedPhone(), error: detail }, 'Telegram unreachable; session kept, retrying with backoff');
    }
    this.connection = 'offline';
    if (!this.stopped) this.retry.start();
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
        dropClient: () => this.dropClient(),
        getMeWithFreshClient: async () => this.getMe(await this.ensureClient()),
        clearDeadSession: () => this.clearDeadSession(),
      },
      trigger,
    );
    switch (result.outcome) {
      case 'recovered':
        this.markValid(result.user);
        return 'recovered';
      case 'failed':
        this.epoch++;
        this.retry.stop();
        this.resetSessionState();
        this.setState('logged_out', result.reason);
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
    this.log.warn({ phone: this.maskedPhone(), reason }, 'Telegram revoked the session; clearing the dead key and auth state');
    await this.dropClient();
    await this.clearDeadSession();
    this.resetSessionState();
    this.setState('revoked', reason);
  }

  private async clearDeadSession(): Promise<void> {
    await this.store.removeAuthState();
    await this.clearSessionKeepingFloodWaits();
  }

  /** Clears session.json, but a FLOOD_WAIT deadline outlives the session it was earned on. */
  private async clearSessionKeepingFloodWaits(): Promise<void> {
    const floodWaits = activeFloodWaits(this.store);
    await this.store.clearSession();
    if (Object.keys(floodWaits).length > 0) await this.store.updateMeta({ floodWaits });
  }

  // ───────────────────────────── login ─────────────────────────────

  sendCode(phone: string): Promise<CodeSent> {
    return this.exclusive(async () => {
      const normalized = normalizePhone(phone);
      if (!normalized) throw new AccountError('PHONE_NUMBER_INVALID', 'The phone number is not valid');
      if (this.state === 'authenticated') throw new AccountError('ALREADY_AUTHENTICATED', 'Already logged in; log out first');
      if (this.state === 'expired') await this.discardExpiredSession();
      const client = await this.loginClient();
      const result = await this.loginStep(() => login.requestCode(client, normalized));
      if (result.kind === 'authorized') {
        await this.completeLogin(result.user, normalized);
        throw new AccountError('ALREADY_AUTHENTICATED', 'Telegram logged this session in without a code');
      }
      await this.persistPendingLogin(result.pending);
      this.reason = undefined;
      this.setState('code_sent');
      this.log.info({ phone: maskPhone(normalized), codeType: result.pending.codeType }, 'Login code sent');
      return codeSentAnswer(result.pending);
    });
  }

  resendCode(): Promise<CodeSent> {
    return this.exclusive(async () => {
      const pending = this.pendingLoginFor('code_sent', 'resend-code');
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
      const client = await this.loginClient();
      const result = await this.loginStep(() => login.signIn(client, pending, trimmed));
      if (result.kind === 'authorized') return this.completeLogin(result.user, pending.phone);
      await this.persistPendingLogin({ ...pending, passwordRequired: { hint: result.hint ?? undefined } });
      this.setState('password_required');
      return { state: 'password_required', hint: result.hint };
    });
  }

  verifyPassword(password: string): Promise<Authenticated> {
    return this.exclusive(async () => {
      const pending = this.pendingLoginFor('password_required', 'verify-password');
      if (typeof password !== 'string' || password === '' || password.length > 1024) {
        throw new AccountError('PASSWORD_HASH_INVALID', 'The password is invalid');
      }
      const client = await this.loginClient();
      const user = await this.loginStep(() => login.checkPassword(client, password));
      return this.completeLogin(user, pending.phone);
    });
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

  private async completeLogin(raw: tl.RawUser, phone: string): Promise<Authenticated> {
    this.epoch++;
    const user = toPublicUser(raw);
    user.phone ??= phone;
    try {
      await this.store.writeAuthState({
        user_auth: true,
        user_id: raw.id,
        phone: user.phone,
        saved_at: new Date().toISOString(),
        version: '1.0',
      });
    } catch (err) {
      // Logged in at Telegram either way; status reports the persistence error and the store retries.
      this.log.error({ err }, 'Could not write auth_state.json after login');
    }
    await this.persistPendingLogin(undefined);
    this.user = user;
    this.restored = false;
    this.restoreUnconfirmed = false;
    this.validation = 'valid';
    this.lastValidatedAt = new Date().toISOString();
    this.connection = 'online';
    this.reason = undefined;
    this.setState('authenticated');
    return { state: 'authenticated', user };
  }

  private async persistPendingLogin(pending: PendingLogin | undefined): Promise<void> {
    try {
      await this.store.updateMeta({ pendingLogin: pending });
    } catch (err) {
      this.log.error({ err }, 'Could not persist the login in progress; it will not survive a restart');
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
      try {
        await this.call(await this.ensureClient(), { _: 'auth.logOut' });
        this.log.info({ phone: this.maskedPhone() }, 'Expired session logged out at Telegram before a new login');
      } catch (err) {
        this.log.info({ error: classifiedOf(err).text }, 'Could not log the expired session out at Telegram; dropping it locally');
      }
    }
    await this.dropClient();
    await this.clearDeadSession();
    this.resetSessionState();
  }

  // ───────────────────────────── logout / me / touch / stop ─────────────────────────────

  /**
   * auth.logOut at Telegram, then the files go. If Telegram cannot be reached the local session is removed
   * anyway: a user who asks to log out wants the session gone from this machine (the authorization may then
   * stay listed under Active sessions until Telegram expires it or the user terminates it from another app).
   */
  logout(): Promise<{ state: 'logged_out' }> {
    return this.exclusive(async () => {
      this.epoch++;
      this.retry.stop();
      const hadAuthorization = this.state === 'authenticated' || this.state === 'expired';
      if (hadAuthorization && this.store.hasSession()) {
        try {
          const client = await this.ensureClient();
          await this.call(client, { _: 'auth.logOut' });
          this.log.info({ phone: this.maskedPhone() }, 'Logged out at Telegram');
        } catch (err) {
          const classified = classifiedOf(err);
          if (classified.kind === 'auth_key_unregistered' || classified.kind === 'revoked') {
            this.log.info({ reason: classified.text }, 'The authorization was already gone at Telegram');
          } else {
            this.log.warn(
              { phone: this.maskedPhone(), error: classified.text },
              'Could not log out at Telegram; removing the local session anyway (the authorization may stay listed in Active sessions)',
            );
          }
        }
      }
      await this.dropClient();
      await this.clearDeadSession();
      this.resetSessionState();
      this.setState('logged_out');
      return { state: 'logged_out' as const };
    });
  }

  async me(): Promise<PublicUser> {
    let recoveryTried = false;
    for (let attempt = 1; ; attempt++) {
      if (this.state !== 'authenticated') throw new AccountError('NOT_AUTHENTICATED', 'Not logged in');
      const epoch = this.epoch;
      const wait = floodWaitRemainingSeconds(this.store, 'users.getUsers');
      if (wait > 0) throw new AccountError('FLOOD_WAIT', `Telegram asked to wait ${wait} s`, wait);
      let client: TelegramClient | undefined;
      try {
        client = await this.ensureClient();
        const user = await this.getMe(client);
        if (epoch === this.epoch) this.markValid(user);
        this.touch();
        return toPublicUser(user);
      } catch (err) {
        if (epoch !== this.epoch) throw await this.sessionEndedError();
        const classified = classifiedOf(err);
        if (classified.kind === 'network' && client && this.clientReplaced(client) && attempt < MAX_CALL_ATTEMPTS) {
          // A recovery started by another call dropped the client under this one: the failure says nothing
          // about Telegram. Wait for that recovery's outcome and ask again on the client it leaves.
          await this.recovery?.catch(() => undefined);
          continue;
        }
        if (classified.kind === 'auth_key_unregistered' && !recoveryTried) {
          recoveryTried = true;
          const result = await this.recover(epoch, classified.text);
          if (result === 'recovered') continue;
          if (result === 'inconclusive') throw new AccountError('TELEGRAM_UNAVAILABLE', 'Telegram cannot be reached right now');
          throw await this.sessionEndedError();
        }
        if (classified.kind === 'revoked') {
          await this.mutex.run(() => this.markRevoked(epoch, classified.text));
          throw new AccountError('SESSION_REVOKED', `Telegram revoked the session (${classified.text})`);
        }
        if (classified.kind === 'network') this.markOffline(classified.text);
        if (classified.kind === 'flood_wait') await this.recordFloodWaitQuietly('users.getUsers', classified.seconds);
        throw toAccountError(err);
      }
    }
  }

  /** Whether `client` is no longer the service's client (a recovery, logout or revocation dropped it). */
  private clientReplaced(client: TelegramClient): boolean {
    return this.client !== client;
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
    return new AccountError('NOT_AUTHENTICATED', 'The session is no longer valid; log in again');
  }

  touch(): void {
    if (this.state !== 'authenticated' || this.touching || this.stopped) return;
    this.touching = true;
    this.store
      .touchAuthState(new Date(), TOUCH_INTERVAL_MS)
      .catch((err: unknown) => this.log.warn({ err }, 'Could not refresh auth_state.json'))
      .finally(() => {
        this.touching = false;
      });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.epoch++;
    this.retry.stop();
    this.stopController.abort(new DOMException('The service is stopping', 'AbortError'));
    // Let a login step in flight finish (it was aborted above), then disconnect, which writes mtcute's state.
    await this.mutex.run(() => this.dropClient());
  }

  // ───────────────────────────── status ─────────────────────────────

  status(): AccountStatus {
    const authenticated = this.state === 'authenticated';
    const authState = this.store.authState();
    const expiresAt = authState ? authStateExpiresAt(authState, this.config.sessionMaxIdleMs) : null;
    const floodWaitUntil = latestFloodWait(this.store);
    const persistenceError = this.store.persistenceError();
    return {
      state: this.state,
      authenticated,
      environment: this.config.environment,
      user: authenticated && this.user ? withMaskedPhone(this.user) : null,
      session: {
        restored: authenticated && this.restored,
        savedAt: authState?.saved_at ?? null,
        expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(),
        validation: authenticated ? this.validation : null,
        lastValidatedAt: authenticated ? this.lastValidatedAt : null,
        connection: this.connection,
      },
      ...(this.reason ? { reason: this.reason } : {}),
      ...(floodWaitUntil ? { floodWaitUntil: new Date(floodWaitUntil).toISOString() } : {}),
      ...(persistenceError ? { persistenceError } : {}),
    };
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
    if (next !== 'authenticated') {
      this.validation = null;
      if (!this.client) this.connection = 'offline';
    }
    const from = this.initialStateLogged ? previous : 'start-up';
    this.initialStateLogged = true;
    this.log.info({ from, to: next, phone: this.maskedPhone(), ...(reason ? { reason } : {}) }, `Account state: ${next}`);
  }

  private resetSessionState(): void {
    this.user = null;
    this.restored = false;
    this.restoreUnconfirmed = false;
    this.validation = null;
    this.lastValidatedAt = null;
    this.connection = 'offline';
  }

  private maskedPhone(): string | undefined {
    const phone = this.user?.phone ?? this.store.meta()?.pendingLogin?.phone;
    return phone ? maskPhone(phone) : undefined;
  }

  private ensureClient(): Promise<TelegramClient> {
    if (this.client) return Promise.resolve(this.client);
    if (this.stopped) return Promise.reject(new DOMException('The service is stopping', 'AbortError'));
    this.clientPromise ??= createTelegramClient({
      config: this.config,
      storage: (primaryDcs) => this.store.createStorage({ primaryDcs }),
      logger: this.rootLogger,
      sandbox: this.sandbox,
    })
      .then((client) => {
        this.client = client;
        client.onConnectionState.add((state) => {
          // mtcute got the connection back: retry now rather than at the end of the backoff delay.
          if (state === 'connected' && this.client === client && this.connection === 'offline') this.retry.kick();
        });
        return client;
      })
      .finally(() => {
        this.clientPromise = null;
      });
    return this.clientPromise;
  }

  private async dropClient(): Promise<void> {
    const pending = this.clientPromise;
    if (pending) await pending.catch(() => undefined);
    const client = this.client;
    this.client = null;
    if (!client) return;
    try {
      await client.destroy();
    } catch (err) {
      this.log.warn({ err }, 'Error while closing the Telegram client');
    }
  }

  private call<T extends tl.RpcMethod>(client: TelegramClient, request: T): Promise<tl.RpcCallReturn[T['_']]> {
    return callTelegram(client, request, { timeoutMs: this.config.clientReadyTimeoutMs, signal: this.stopController.signal });
  }

  private async getMe(client: TelegramClient): Promise<tl.RawUser> {
    const users = await this.call(client, { _: 'users.getUsers', id: [{ _: 'inputUserSelf' }] });
    const self = users[0];
    if (!self || self._ !== 'user') throw new TelegramCallError('users.getUsers', { kind: 'telegram', text: 'USER_EMPTY', code: 0 });
    return self;
  }

  /** The login flow's view of the client: each call flood-guarded, bounded and classified. */
  private async loginClient(): Promise<login.LoginClient> {
    const client = await this.ensureClient();
    return {
      apiId: this.config.telegram.apiId,
      apiHash: this.config.telegram.apiHash,
      rpc: async (request) => {
        const wait = floodWaitRemainingSeconds(this.store, request._);
        if (wait > 0) throw new AccountError('FLOOD_WAIT', `Telegram asked to wait ${wait} s before ${request._}`, wait);
        try {
          return await this.call(client, request);
        } catch (err) {
          const classified = classifiedOf(err);
          if (classified.kind === 'flood_wait') await this.recordFloodWaitQuietly(request._, classified.seconds);
          if (classified.kind === 'network') this.connection = 'offline';
          throw err;
        }
      },
      primaryDcId: () => client.getPrimaryDcId(),
      notifyLoggedIn: (auth) => client.notifyLoggedIn(auth),
      computeSrpParams: (password, plain) => client.computeSrpParams(password, plain),
    };
  }

  /** Runs a login step; Telegram and mtcute errors become AccountErrors, state untouched. */
  private async recordFloodWaitQuietly(method: string, seconds: number): Promise<void> {
    this.log.warn({ method, seconds }, 'Telegram asked to wait (FLOOD_WAIT); the deadline is kept on disk');
    await recordFloodWait(this.store, method, seconds).catch((err: unknown) => this.log.error({ err }, 'Could not persist the FLOOD_WAIT deadline'));
  }

  private async loginStep<T>(step: () => Promise<T>): Promise<T> {
    try {
      const result = await step();
      this.connection = 'online';
      return result;
    } catch (err) {
      if (err instanceof AccountError) throw err;
      const accountError = toAccountError(err);
      this.log.info({ phone: this.maskedPhone(), error: accountError.code }, 'Login step refused');
      throw accountError;
    }
  }
}

function classifiedOf(err: unknown): TelegramCallError['classified'] {
  return err instanceof TelegramCallError ? err.classified : { kind: 'telegram', text: 'UNKNOWN', code: 0 };
}

function userFromAuthState(userId: number, phone: string): PublicUser {
  return { id: userId, username: null, firstName: '', lastName: null, phone };
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
