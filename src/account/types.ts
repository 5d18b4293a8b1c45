/**
 * The account service's contract with the HTTP layer: the login/session state machine's inputs
 * (methods) and its observable state (status). Routes translate HTTP to these calls and AccountError
 * to `{"error": {"code", "message"}}`; they hold no state of their own.
 */

export type AccountState = 'logged_out' | 'code_sent' | 'password_required' | 'authenticated' | 'expired' | 'revoked';
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
  };
  reason?: string;
  floodWaitUntil?: string;
  persistenceError?: { file: string; code: string; message: string; at: string };
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
  | 'SESSION_EXPIRED';

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
}

export interface Account {
  readonly id: string;
  /** Restore from the store and start background validation; resolves once status is known (never waits for the network). */
  start(): Promise<void>;
  status(): AccountStatus;
  sendCode(phone: string): Promise<CodeSent>;
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
}
