/**
 * Keeping secrets out of the log, in three layers:
 * 1. pino `redact` paths for the fields that hold secrets (top level and one level down);
 * 2. a deep walk over every logged object (any depth) that censors the same field names and masks phones;
 * 3. a last scrub of the finished line for the known secret values (API token, API hash).
 * Login codes are named `code`, like error codes (`ENOSPC`, `PHONE_CODE_INVALID`): a `code` that looks
 * like an error code (upper-case identifier) is kept, anything else is censored.
 */
import { isMaskedPhone, maskPhone } from './mask-phone.js';

export const CENSORED = '[Redacted]';

/** Field names (compared case-insensitively) whose values are never logged. */
const SECRET_FIELDS = [
  'code',
  'phoneCode',
  'password',
  'newPassword',
  'phoneCodeHash',
  'phone_code_hash',
  'authKey',
  'auth_key',
  'apiHash',
  'api_hash',
  'token',
  'apiToken',
  'api_token',
  'accessToken',
  'authorization',
  'cookie',
  'sessionEncryptionKey',
  'encryptionKey',
  'srpPassword',
];
const SECRET_FIELD_SET = new Set(SECRET_FIELDS.map((f) => f.toLowerCase()));
const PHONE_FIELDS = new Set(['phone', 'phonenumber', 'phone_number']);
const ERROR_CODE = /^[A-Z][A-Z0-9_]*$/;

/** pino `redact` paths: each secret field at the top level and one level down, plus request headers. */
export const REDACT_PATHS = [
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
];

/** pino `redact.censor`: keeps error-code-looking `code` values, censors everything else. */
export function censor(value: unknown, path: string[]): unknown {
  const field = path[path.length - 1];
  if (field === 'code' && typeof value === 'string' && ERROR_CODE.test(value)) return value;
  return CENSORED;
}

function censoredValue(key: string, value: unknown): unknown {
  const lower = key.toLowerCase();
  if (SECRET_FIELD_SET.has(lower)) {
    if (lower === 'code' && typeof value === 'string' && ERROR_CODE.test(value)) return value;
    return value === undefined || value === null ? value : CENSORED;
  }
  if (PHONE_FIELDS.has(lower) && typeof value === 'string' && !isMaskedPhone(value)) return maskPhone(value);
  return value;
}

const MAX_DEPTH = 8;

/**
 * A copy of `value` with secret fields censored and phones masked, at any depth. Plain objects and arrays
 * are copied only when something in them changes; other objects (Errors, Buffers, …) are left to pino's
 * serializers and the redact paths.
 */
export function scrubSecrets<T>(value: T, depth = 0): T {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((item) => {
      const next = scrubSecrets(item, depth + 1);
      if (next !== item) changed = true;
      return next;
    });
    return (changed ? out : value) as T;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let out: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    let next = censoredValue(key, item);
    if (next === item) next = scrubSecrets(item, depth + 1);
    if (next !== item) {
      out ??= { ...(value as Record<string, unknown>) };
      out[key] = next;
    }
  }
  return (out ?? value) as T;
}

/**
 * Replaces each known secret value (at least 8 characters) in a finished log line, in any letter case
 * (an API hash upper-cased by some message is still the hash) and in its JSON-escaped form.
 */
export function createSecretScrubber(secrets: Array<string | undefined>): (line: string) => string {
  const known = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8))];
  if (known.length === 0) return (line) => line;
  const forms = new Set<string>();
  for (const secret of known) {
    forms.add(secret);
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  // Longest first, so a secret that contains another is replaced whole.
  const alternatives = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp(alternatives.join('|'), 'gi');
  const lowered = [...forms].map((f) => f.toLowerCase());
  return (line) => {
    // Cheap pre-check: most lines hold no secret.
    const lower = line.toLowerCase();
    if (!lowered.some((f) => lower.includes(f))) return line;
    return line.replace(pattern, CENSORED);
  };
}

// Hex runs of 32+ chars and base64 runs of 40+ chars: auth keys, hashes, nonces.
const SECRET_LIKE = /\b[0-9a-fA-F]{32,}\b|[A-Za-z0-9+/_-]{40,}={0,2}/g;

/**
 * For text the service did not compose (a library's log line, an error message from below): every run that
 * looks like key material or a hash is replaced, whatever it is.
 */
export function redactSecretLikeText(text: string): string {
  return text.replace(SECRET_LIKE, '[redacted]');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
