/**
 * The account service's contract with the HTTP layer: the login/session state machine's inputs
 * (methods) and its observable state (status). Routes translate HTTP to these calls and AccountError
 * to `{"error": {"code", "message"}}`; they hold no state of their own.
 */
import type { EventsStatus } from '../events/account-events.js';
import type { WebhookView } from '../events/webhook-delivery.js';
import type { AccountMessaging } from './messaging.js';

import type { LoginMethod } from '../store/types.js';

export type AccountState = 'logged_out' | 'code_sent' | 'qr_pending' | 'password_required' | 'authenticated' | 'expired' | 'revoked';

/** How a session was logged in: a login code, a QR code, or a future auth token (no code asked). */
export type { LoginMethod };
export type Environment = 'sandbox' | 'production' | 'test';

export interface PublicUser {
  id: number;
  username: string | null;
  firstName: string;
  lastName: string | null;
  /** Masked in status (`+1555***1111`); full only in /me and login answers, which the token holder owns. */
  phone: string | null;
}

export interface AccountStatus {
  /** The account's id (`default` for the single-account routes). */
  id: string;
  state: AccountState;
  authenticated: boolean;
  environment: Environment;
  user: PublicUser | null; // phone masked
  session: {
    restored: boolean;
    savedAt: string | null;
    expiresAt: string | null;
    validation: 'pending' | 'valid' | 'failed' | null;
    lastValidatedAt: string | null;
    connection: 'online' | 'connecting' | 'offline';
    /** How this session was logged in (null when not known: not logged in, or logged in by an older version). */
    loginMethod: LoginMethod | null;
  };
  /** While `qr_pending`: the QR code to scan now (the token is refreshed before it expires). */
  qr?: QrCode;
  /** While `password_required`: the 2FA password's hint (null when it has none). */
  hint?: string | null;
  reason?: string;
  floodWaitUntil?: string;
  persistenceError?: { file: string; code: string; message: string; at: string };
  /** The event journal (by-id status only): ids held, events not yet on disk, a write failure. */
  events?: EventsStatus;
  /** Webhook delivery (by-id status only; null: no webhook). */
  webhook?: WebhookView | null;
}

export interface CodeSent {
  state: 'code_sent';
  phone: string; // masked
  codeType: string; // 'app' | 'sms' | 'call' | 'flash_call' | 'missed_call' | 'email' | 'fragment' | …
  codeLength: number | null;
  nextType: string | null;
  timeout: number | null;
}
export interface Authenticated {
  state: 'authenticated';
  user: PublicUser;
  loginMethod: LoginMethod;
}
/** A QR login token to show: `url` is `tg://login?token=…`, scanned by a logged-in Telegram app. */
export interface QrCode {
  url: string;
  expiresAt: string; // ISO
}
export interface QrPending extends QrCode {
  state: 'qr_pending';
}
export interface PasswordRequired {
  state: 'password_required';
  hint: string | null;
}

/**
 * Stable error codes of the account layer (the HTTP layer maps each to a status in one table:
 * http/error-status.ts).
 */
export type AccountErrorCode =
  | 'INVALID_STEP' // a step out of order (verify-code with no code sent, …)
  | 'ALREADY_AUTHENTICATED'
  | 'LOGIN_IN_PROGRESS' // send-code for another phone while a login is under way
  | 'NOT_AUTHENTICATED'
  | 'PHONE_NUMBER_INVALID'
  | 'PHONE_NUMBER_BANNED'
  | 'PHONE_CODE_INVALID'
  | 'PHONE_CODE_EXPIRED'
  | 'PHONE_CODE_EMPTY'
  | 'PASSWORD_HASH_INVALID'
  | 'PHONE_NUMBER_UNOCCUPIED' // sign-up is not offered by this service
  | 'TOO_MANY_ATTEMPTS' // wrong codes/passwords for this account: wait (Retry-After)
  | 'RATE_LIMITED' // too many login requests for this account: wait (Retry-After)
  | 'FLOOD_WAIT'
  | 'TELEGRAM_UNAVAILABLE' // network/DC down; nothing was changed
  | 'LOGIN_OUTCOME_UNKNOWN' // a login step timed out and Telegram could not be asked what happened
  | 'TELEGRAM_ERROR' // an unexpected rpc_error
  | 'SESSION_REVOKED'
  | 'SESSION_EXPIRED'
  | 'QR_LOGIN_EXPIRED' // a QR code not scanned within QR_LOGIN_TIMEOUT (status `reason`)
  // the account API (messages):
  | 'PEER_NOT_FOUND' // `peer` names no chat this account can reach
  | 'MESSAGE_INVALID' // Telegram refused the text (empty, too long) or the message id
  | 'TELEGRAM_REFUSED' // Telegram refused the request for another reason (blocked, no rights, …)
  | 'SEND_OUTCOME_UNKNOWN' // a send got no answer: it may have reached Telegram; it will not be sent later
  | 'IDEMPOTENCY_KEY_REUSED' // the Idempotency-Key was used with another request
  | 'INVALID_CURSOR'
  | 'STORAGE_UNAVAILABLE'; // a write the request depends on failed (disk full, read-only); nothing was sent

export class AccountError extends Error {
  constructor(
    readonly code: AccountErrorCode,
    message: string,
    /** For FLOOD_WAIT and TOO_MANY_ATTEMPTS: seconds to wait (→ Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AccountError';
  }
}

/**
 * What an account reports as it happens, for metrics (never a phone, code or token: only outcomes and
 * Telegram method names).
 */
export interface AccountObserver {
  /** A validation or probe of the session finished: how it ended. */
  validation?(outcome: 'valid' | 'offline' | 'flood_wait' | 'error' | 'ended'): void;
  recovery?(outcome: 'recovered' | 'failed' | 'revoked' | 'inconclusive'): void;
  revocation?(reason: string): void;
  /** mtcute brought a connection back up. */
  reconnect?(): void;
  floodWait?(method: string, seconds: number): void;
  /** A login step that ended without a request of its own (a QR code scanned): its step and outcome. */
  loginAttempt?(step: string, outcome: string): void;
}

export interface Account {
  readonly id: string;
  /** Restore from the store and start background validation; resolves once status is known (never waits for the network). */
  start(): Promise<void>;
  status(): AccountStatus;
  /** Sends a login code — or, when a kept future auth token is honoured, logs in at once (no code). */
  sendCode(phone: string): Promise<CodeSent | Authenticated>;
  /**
   * Starts a QR login (cancelling one in progress): resolves with the first QR code. The code is refreshed
   * in the background until it is scanned (→ authenticated, or password_required for 2FA), cancelled
   * (logout, a new login) or QR_LOGIN_TIMEOUT passes.
   */
  startQrLogin(): Promise<QrPending | Authenticated | PasswordRequired>;
  /** The QR code of the QR login in progress (INVALID_STEP when none is waiting for a scan). */
  qrCode(): QrPending;
  resendCode(): Promise<CodeSent>;
  verifyCode(code: string): Promise<Authenticated | PasswordRequired>;
  verifyPassword(password: string): Promise<Authenticated>;
  logout(): Promise<{ state: 'logged_out' }>;
  /** The full self user from Telegram (getMe). */
  me(): Promise<PublicUser>;
  /** Marks API activity (refreshes saved_at, throttled; never revives an expired session). */
  touch(): void;
  /** Persist and disconnect (after letting a login step under way finish, for at most `drainMs`). */
  stop(opts?: { drainMs?: number }): Promise<void>;
  /** The account API: dialogs, history, send (Idempotency-Key), read marks. */
  readonly messaging: AccountMessaging;
}
