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

/** Stable error codes; the HTTP layer maps them to statuses with HTTP_STATUS_BY_CODE. */
export const HTTP_STATUS_BY_CODE = {
  INVALID_STEP: 409, // a step out of order (verify-code with no code sent, …)
  ALREADY_AUTHENTICATED: 409,
  NOT_AUTHENTICATED: 401,
  PHONE_NUMBER_INVALID: 400,
  PHONE_NUMBER_BANNED: 403,
  PHONE_CODE_INVALID: 400,
  PHONE_CODE_EXPIRED: 400,
  PHONE_CODE_EMPTY: 400,
  PASSWORD_HASH_INVALID: 400,
  PHONE_NUMBER_UNOCCUPIED: 400, // sign-up is not offered by this service
  FLOOD_WAIT: 429,
  TELEGRAM_UNAVAILABLE: 503, // network/DC down; nothing was changed
  TELEGRAM_ERROR: 502, // an unexpected rpc_error
  SESSION_REVOKED: 401,
} as const;
export type AccountErrorCode = keyof typeof HTTP_STATUS_BY_CODE;

export class AccountError extends Error {
  constructor(
    readonly code: AccountErrorCode,
    message: string,
    /** For FLOOD_WAIT: seconds to wait (→ Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AccountError';
  }
}

export interface AccountService {
  /** Restore from disk and start background validation; resolves once status is known (never waits for the network). */
  start(): Promise<void>;
  status(): AccountStatus;
  sendCode(phone: string): Promise<CodeSent>;
  resendCode(): Promise<CodeSent>;
  verifyCode(code: string): Promise<Authenticated | PasswordRequired>;
  verifyPassword(password: string): Promise<Authenticated>;
  logout(): Promise<{ state: 'logged_out' }>;
  /** The full self user from Telegram (getMe). */
  me(): Promise<PublicUser>;
  /** Marks API activity (refreshes saved_at, throttled). */
  touch(): void;
  /** Persist and disconnect. */
  stop(): Promise<void>;
}
