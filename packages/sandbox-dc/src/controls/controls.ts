/**
 * The typed in-process controls of a running sandbox DC: create users, read login codes, revoke,
 * terminate and forget keys, deactivate users, inject errors, fault the transport of both DCs, send
 * messages between accounts, pause update pushes, accept QR login tokens, and read the referee's count
 * of keys held by two instances at once.
 */
import { createSrpPassword } from '../crypto/srp.js';
import { AccountInputError, homeDcOf, normalizePhone, type Account } from '../state/accounts.js';
import type { AuthKeyEntry } from '../state/auth-keys.js';
import type { DoubleOwnerReport, KeyReferee } from '../state/key-referee.js';
import type { SandboxState } from '../state/sandbox-state.js';
import type { AuthKeyRecord, SessionInfo } from '../types.js';
import type { FaultInjector, InjectedError } from '../rpc/faults.js';
import { acceptQrToken } from '../rpc/qr-login.js';
import type { UpdateFeed, UpdateLimits } from '../rpc/update-feed.js';

/** What the controls need from one DC's protocol server (DcServer provides it). */
export interface ControllableDc {
  readonly dcId: number;
  stopListening(): void | Promise<void>;
  startListening(): void | Promise<void>;
  dropConnections(): void;
  setAnswerDelay(ms: number): void;
  sessions(): SessionInfo[];
  forgetAuthKey(id: string): void;
}

export interface CreateUserInput {
  /** International format; '+', spaces and dashes are ignored. */
  phone: string;
  firstName?: string;
  lastName?: string;
  username?: string;
  /** Enables 2FA with this password. */
  password?: string;
  hint?: string;
  /** 1 or 2 (default: DC X for a test number 99966XYYYY with X ∈ {1, 2}, else 2). */
  homeDc?: number;
}

export interface UserInfo {
  id: number;
  phone: string;
  firstName: string;
  lastName?: string;
  username?: string;
  homeDc: number;
  hasPassword: boolean;
  deactivated: boolean;
}

export interface AuthKeyInfo {
  authKeyId: string;
  dcId: number;
  createdAt: number;
  /** The user the key is logged in as (absent when logged out / never logged in). */
  userId?: number;
  phone?: string;
  loggedInAt?: number;
  /** Terminated from elsewhere: requests get 401 SESSION_REVOKED. */
  sessionRevoked: boolean;
  /** Requests get 406 AUTH_KEY_DUPLICATED. */
  duplicated: boolean;
  layer?: number;
  client?: AuthKeyRecord['client'];
}

export interface SandboxControls {
  createUser(input: CreateUserInput): UserInfo;
  getUser(userIdOrPhone: number | string): UserInfo | undefined;
  listUsers(): UserInfo[];
  /** Last login code issued for the phone (test numbers included), or undefined. */
  lastCode(phone: string): string | undefined;
  /** Lifetime of codes issued from now on (ms). */
  setCodeLifetime(ms: number): void;
  /** Logs the key out: its requests get 401 AUTH_KEY_UNREGISTERED. */
  revokeAuthKey(authKeyId: string): void;
  /** Terminates the key's session as if from another device: 401 SESSION_REVOKED. */
  terminateSession(authKeyId: string): void;
  /** Every request of the user's keys gets 401 USER_DEACTIVATED; new logins get PHONE_NUMBER_BANNED. */
  deactivateUser(userIdOrPhone: number | string): void;
  reactivateUser(userIdOrPhone: number | string): void;
  /** Removes the key from the DC entirely: the client's next message gets transport error -404. */
  forgetAuthKey(authKeyId: string): void;
  /** As if the key were used from two places at once: every request gets 406 AUTH_KEY_DUPLICATED from now on. */
  markAuthKeyDuplicated(authKeyId: string): void;
  /** The next `times` calls of `method` ('*' = any method) fail with this rpc_error. */
  injectError(method: string, error: InjectedError, times?: number): void;
  /** Shorthand for injectError(method, {code: 420, message: `FLOOD_WAIT_${seconds}`}, times). */
  injectFloodWait(method: string, seconds: number, times?: number): void;
  clearInjectedErrors(): void;
  /** Delays every rpc_result of both DCs by `ms` (0 = off). */
  setAnswerDelay(ms: number): void;
  /** Closes every client connection of both DCs (clients reconnect; sessions stay). */
  dropConnections(dcId?: number): void;
  /** DC down: closes the listeners and connections (of one DC, or both). */
  stopListening(dcId?: number): Promise<void>;
  /** DC up again on the same ports. */
  startListening(dcId?: number): Promise<void>;
  listAuthKeys(): AuthKeyInfo[];
  authKeysOfUser(userIdOrPhone: number | string): AuthKeyInfo[];
  listSessions(): SessionInfo[];
  /**
   * Sends a message from one account to another (or to itself) as the sender's client would: stored in
   * both boxes and pushed to both sides' live sessions. `id` is the sender's message id,
   * `recipientMessageId` the id in the recipient's box.
   */
  deliverMessage(from: number | string, to: number | string, text: string): { id: number; recipientMessageId?: number };
  /** Stops pushing updates to one user (or to all): a gap their clients must catch up by getDifference. */
  pausePushes(user?: number | string): void;
  /** Pushes again; users who missed pushes get updatesTooLong (unless `tooLong: false`). Returns their ids. */
  resumePushes(user?: number | string, opts?: { tooLong?: boolean }): { caughtUp: number[] };
  pushesPaused(): { all: boolean; users: number[] };
  /** When getDifference slices (events per answer) and answers differenceTooLong (pts behind). Returns the limits now. */
  setUpdateLimits(limits: Partial<UpdateLimits>): UpdateLimits;
  /**
   * Scans a QR login token as the user's phone would (auth.acceptLoginToken): `token` is the token's
   * bytes, its base64url text or the whole tg://login?token=… link; omitted = the newest token waiting.
   * Errors carry Telegram's names (AUTH_TOKEN_EXPIRED, AUTH_TOKEN_ALREADY_ACCEPTED, …).
   */
  acceptLoginToken(user: number | string, token?: Uint8Array | string): { authKeyId: string; dcId: number };
  /** Lifetime of QR login tokens exported from now on (default 30 s). */
  setLoginTokenLifetime(ms: number): void;
  /** Lifetime of future auth tokens issued from now on (default 30 days). */
  setFutureAuthTokenLifetime(ms: number): void;
  /** The referee's count (and list) of moments when two instances held live connections for one auth key. */
  doubleOwnerMoments(): DoubleOwnerReport;
  resetDoubleOwnerMoments(): void;
}

/** What the controls drive besides the state: pushes and the referee (index.ts makes them). */
export interface ControlServices {
  feed: UpdateFeed;
  referee: KeyReferee;
}

/** A control called with bad arguments (unknown key, user, bad phone…). */
export class ControlError extends Error {
  override readonly name = 'ControlError';
}

function userInfo(a: Account): UserInfo {
  return {
    id: a.id,
    phone: a.phone,
    firstName: a.firstName,
    lastName: a.lastName,
    username: a.username,
    homeDc: a.homeDc,
    hasPassword: a.password !== undefined,
    deactivated: a.deactivated,
  };
}

/** A QR login token as bytes from its bytes, base64url text, or tg://login?token=… link. */
function decodeLoginToken(token: Uint8Array | string): Uint8Array {
  if (token instanceof Uint8Array) return token;
  const text = String(token).trim();
  const b64 = text.startsWith('tg:') ? (/[?&]token=([^&#]*)/.exec(text)?.[1] ?? '') : text;
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(b64)) throw new ControlError('token must be base64url or a tg://login?token=… link');
  return new Uint8Array(Buffer.from(b64, 'base64url'));
}

const DAY_MS = 24 * 3600_000;

/** A lifetime in ms, positive and at most `max` (a QR token's expiry must fit TL's int seconds). */
const lifetime = (what: string, ms: number, max: number): number => {
  if (!(ms > 0) || !(ms <= max)) throw new ControlError(`${what} must be a positive number of ms, at most ${max}`);
  return ms;
};

export function createControls(state: SandboxState, faults: FaultInjector, dcs: () => ControllableDc[], services: ControlServices): SandboxControls {
  const { feed, referee } = services;
  const findUser = (userIdOrPhone: number | string): Account | undefined =>
    typeof userIdOrPhone === 'number'
      ? state.accounts.byId(userIdOrPhone)
      : /^\+?[\d\s-]+$/.test(userIdOrPhone)
        ? (state.accounts.byPhone(userIdOrPhone) ?? state.accounts.byId(Number(userIdOrPhone)))
        : state.accounts.byUsername(userIdOrPhone);

  const requireUser = (userIdOrPhone: number | string): Account => {
    const a = findUser(userIdOrPhone);
    if (!a) throw new ControlError(`no such user: ${String(userIdOrPhone)}`);
    return a;
  };

  const requireKey = (authKeyId: string): AuthKeyEntry => {
    const entry = state.keys.get(String(authKeyId).toLowerCase());
    if (!entry) throw new ControlError(`no such auth key: ${authKeyId}`);
    return entry;
  };

  const keyInfo = (e: AuthKeyEntry): AuthKeyInfo => ({
    authKeyId: e.record.id,
    dcId: e.record.dcId,
    createdAt: e.record.createdAt,
    userId: e.authorization?.userId,
    phone: e.authorization ? state.accounts.byId(e.authorization.userId)?.phone : undefined,
    loggedInAt: e.authorization?.authorizedAt,
    sessionRevoked: e.authorization?.sessionRevoked === true,
    duplicated: e.duplicated === true,
    layer: e.record.layer,
    client: e.record.client,
  });

  const selectDcs = (dcId?: number): ControllableDc[] => {
    const all = dcs();
    if (dcId === undefined) return all;
    const one = all.filter((d) => d.dcId === dcId);
    if (!one.length) throw new ControlError(`no such DC: ${dcId}`);
    return one;
  };

  return {
    createUser(input) {
      if (!input || typeof input.phone !== 'string') throw new ControlError('createUser needs { phone }');
      try {
        const account = state.accounts.create({
          phone: input.phone,
          firstName: input.firstName,
          lastName: input.lastName,
          username: input.username,
          // Default home: as for a first sign-in (test number 99966XYYYY → DC X if 1 or 2, else DC 2).
          homeDc: input.homeDc ?? homeDcOf(normalizePhone(input.phone) ?? '', undefined),
          password: input.password !== undefined ? { srp: createSrpPassword(input.password), hint: input.hint } : undefined,
        });
        return userInfo(account);
      } catch (e) {
        if (e instanceof AccountInputError) throw new ControlError(`createUser: ${e.message} (${e.rpcMessage})`);
        throw e;
      }
    },
    getUser: (userIdOrPhone) => {
      const a = findUser(userIdOrPhone);
      return a ? userInfo(a) : undefined;
    },
    listUsers: () => state.accounts.all().map(userInfo),
    lastCode: (phone) => {
      const normalized = String(phone).replace(/[\s\-()+]/g, '');
      return state.codes.lastCode(normalized);
    },
    setCodeLifetime(ms) {
      state.codes.lifetimeMs = lifetime('code lifetime', ms, 365 * DAY_MS);
    },
    revokeAuthKey(authKeyId) {
      const entry = requireKey(authKeyId);
      state.keys.unbind(entry.record.id);
      state.passwordLogins.delete(entry.record.id);
      state.srpSessions.delete(entry.record.id);
    },
    terminateSession(authKeyId) {
      const entry = requireKey(authKeyId);
      if (!state.keys.revokeSession(entry.record.id)) throw new ControlError(`auth key ${authKeyId} is not logged in`);
    },
    deactivateUser(userIdOrPhone) {
      state.accounts.update(requireUser(userIdOrPhone).id, { deactivated: true });
    },
    reactivateUser(userIdOrPhone) {
      state.accounts.update(requireUser(userIdOrPhone).id, { deactivated: false });
    },
    forgetAuthKey(authKeyId) {
      const entry = requireKey(authKeyId);
      state.keys.remove(entry.record.id);
      state.passwordLogins.delete(entry.record.id);
      state.srpSessions.delete(entry.record.id);
      for (const dc of dcs()) if (dc.dcId === entry.record.dcId) dc.forgetAuthKey(entry.record.id);
    },
    markAuthKeyDuplicated(authKeyId) {
      state.keys.markDuplicated(requireKey(authKeyId).record.id);
    },
    injectError(method, error, times = 1) {
      try {
        faults.inject(method, error, times);
      } catch (e) {
        throw new ControlError(`injectError: ${(e as Error).message}`);
      }
    },
    injectFloodWait(method, seconds, times = 1) {
      if (!Number.isInteger(seconds) || seconds < 0) throw new ControlError('flood wait seconds must be a non-negative integer');
      faults.inject(method, { code: 420, message: `FLOOD_WAIT_${seconds}` }, times);
    },
    clearInjectedErrors: () => faults.clear(),
    setAnswerDelay(ms) {
      if (!(ms >= 0)) throw new ControlError('answer delay must be >= 0');
      for (const dc of dcs()) dc.setAnswerDelay(ms);
    },
    dropConnections(dcId) {
      for (const dc of selectDcs(dcId)) dc.dropConnections();
    },
    async stopListening(dcId) {
      for (const dc of selectDcs(dcId)) await dc.stopListening();
    },
    async startListening(dcId) {
      for (const dc of selectDcs(dcId)) await dc.startListening();
    },
    listAuthKeys: () => state.keys.all().map(keyInfo),
    authKeysOfUser: (userIdOrPhone) => state.keys.keysOfUser(requireUser(userIdOrPhone).id).map(keyInfo),
    listSessions: () => dcs().flatMap((dc) => dc.sessions()),
    deliverMessage(from, to, text) {
      const sender = requireUser(from);
      const recipient = requireUser(to);
      if (typeof text !== 'string' || !text.trim()) throw new ControlError('message text is empty');
      if (text.length > 4096) throw new ControlError('message text is longer than 4096 characters');
      if (recipient.deactivated) throw new ControlError('the recipient is deactivated (USER_DEACTIVATED)');
      const { sent, received } = feed.sendMessage(sender.id, recipient.id, text);
      return { id: sent.id, recipientMessageId: received?.id };
    },
    pausePushes(user) {
      feed.pause(user === undefined ? undefined : requireUser(user).id);
    },
    resumePushes(user, opts) {
      return { caughtUp: feed.resume(user === undefined ? undefined : requireUser(user).id, opts) };
    },
    pushesPaused: () => feed.pausedState(),
    setUpdateLimits(limits) {
      for (const [k, v] of Object.entries(limits ?? {})) {
        if (!(k in feed.limits)) throw new ControlError(`unknown update limit: ${k}`);
        if (!Number.isInteger(v) || (v as number) < 1) throw new ControlError(`${k} must be a positive integer`);
      }
      Object.assign(feed.limits, limits);
      return { ...feed.limits };
    },
    acceptLoginToken(user, token) {
      const account = requireUser(user);
      let lookup = token === undefined ? undefined : state.loginTokens.find(decodeLoginToken(token));
      if (!lookup) {
        const latest = state.loginTokens.latestPending();
        if (!latest) throw new ControlError('no QR login token is waiting');
        lookup = { ok: true, record: latest };
      }
      const result = acceptQrToken(state, feed, lookup, account);
      if (!result.ok) throw new ControlError(`acceptLoginToken: ${result.error}`);
      return { authKeyId: result.waiting.record.id, dcId: result.waiting.record.dcId };
    },
    setLoginTokenLifetime(ms) {
      state.loginTokens.lifetimeMs = lifetime('login token lifetime', ms, DAY_MS);
    },
    setFutureAuthTokenLifetime(ms) {
      state.futureAuthTokens.lifetimeMs = lifetime('future auth token lifetime', ms, 365 * DAY_MS);
    },
    doubleOwnerMoments: () => referee.report(),
    resetDoubleOwnerMoments: () => referee.reset(),
  };
}
