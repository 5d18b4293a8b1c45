/** The one table from the account layer's error codes to HTTP statuses. */
import type { AccountErrorCode } from '../account/types.js';
import type { RegistryErrorCode } from '../accounts/registry.js';

export const HTTP_STATUS_BY_CODE: Record<AccountErrorCode, number> = {
  INVALID_STEP: 409,
  ALREADY_AUTHENTICATED: 409,
  LOGIN_IN_PROGRESS: 409,
  NOT_AUTHENTICATED: 401,
  PHONE_NUMBER_INVALID: 400,
  PHONE_NUMBER_BANNED: 403,
  PHONE_CODE_INVALID: 400,
  PHONE_CODE_EXPIRED: 400,
  PHONE_CODE_EMPTY: 400,
  PASSWORD_HASH_INVALID: 400,
  PHONE_NUMBER_UNOCCUPIED: 400,
  TOO_MANY_ATTEMPTS: 429,
  RATE_LIMITED: 429,
  FLOOD_WAIT: 429,
  TELEGRAM_UNAVAILABLE: 503,
  LOGIN_OUTCOME_UNKNOWN: 503,
  TELEGRAM_ERROR: 502,
  SESSION_REVOKED: 401,
  SESSION_EXPIRED: 401,
};

/** Codes answered with a Retry-After header (seconds from the error). */
export const RETRY_AFTER_CODES: ReadonlySet<AccountErrorCode> = new Set(['FLOOD_WAIT', 'TOO_MANY_ATTEMPTS', 'RATE_LIMITED']);

/** The registry's error codes (accounts and tokens). */
export const REGISTRY_STATUS_BY_CODE: Record<RegistryErrorCode, number> = {
  ACCOUNT_EXISTS: 409,
  ACCOUNT_NOT_FOUND: 404,
  INVALID_ACCOUNT_ID: 400,
  TOKEN_NOT_FOUND: 404,
  STORAGE_UNAVAILABLE: 503,
};
