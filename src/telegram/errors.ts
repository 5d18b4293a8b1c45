/**
 * Classifies anything mtcute (or the network under it) throws into the few kinds the account
 * service acts on. The account service decides what each kind means for the session; this module
 * only recognises errors.
 */
import { MtTimeoutError, MtcuteError, tl } from '@mtcute/core';

export type TelegramErrorKind =
  /** The auth key is unknown to Telegram (logged out elsewhere, revoked, or a transient DC fault). Try recovery. */
  | { kind: 'auth_key_unregistered'; text: string }
  /** The authorization is gone for good: the session is dead. */
  | { kind: 'revoked'; text: string }
  /** Telegram asked us to wait `seconds` before calling this method again. */
  | { kind: 'flood_wait'; text: string; seconds: number }
  /** Could not reach Telegram, or Telegram failed internally: transient, nothing to clear. */
  | { kind: 'network'; text: string }
  /** The user's input was refused (wrong code, wrong password, bad phone, …). */
  | { kind: 'user_input'; text: string; code: number }
  /** Any other rpc_error. */
  | { kind: 'telegram'; text: string; code: number };

const AUTH_KEY_UNREGISTERED = new Set(['AUTH_KEY_UNREGISTERED', 'AUTH_KEY_INVALID']);

const REVOKED = new Set([
  'SESSION_REVOKED',
  'USER_DEACTIVATED',
  'USER_DEACTIVATED_BAN',
  'AUTH_KEY_DUPLICATED',
  'SESSION_EXPIRED',
]);

const USER_INPUT = /^(PHONE_|PASSWORD_|CODE_|SRP_|FIRSTNAME_|LASTNAME_)/;

const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/** The rpc error's text with mtcute's `%d` placeholders put back to the numbers Telegram sent. */
function rpcText(err: tl.RpcError): string {
  // mtcute rewrites e.g. FLOOD_WAIT_30 to FLOOD_WAIT_%d; the original text is still in `message`.
  const original = /: ([A-Z0-9_]+)$/.exec(err.message);
  return original?.[1] ?? err.text;
}

function floodSeconds(err: tl.RpcError, text: string): number | undefined {
  if (!/(^|_)WAIT_\d+$/.test(text) || /^SLOWMODE_/.test(text)) return undefined;
  const fromField = (err as unknown as { seconds?: unknown }).seconds;
  if (typeof fromField === 'number' && Number.isFinite(fromField)) return fromField;
  const digits = /_(\d+)$/.exec(text);
  return digits ? Number(digits[1]) : undefined;
}

export function classifyTelegramError(err: unknown): TelegramErrorKind {
  if (err instanceof tl.RpcError) {
    const text = rpcText(err);
    if (AUTH_KEY_UNREGISTERED.has(text)) return { kind: 'auth_key_unregistered', text };
    // 401/406 are about this session; a 400 with the same name is about someone else (the sandbox answers
    // 400 USER_DEACTIVATED to a message for a deleted account), and must never end this session.
    if (REVOKED.has(text) && err.code !== 400) return { kind: 'revoked', text };
    const seconds = err.code === 420 ? floodSeconds(err, text) : undefined;
    if (seconds !== undefined) return { kind: 'flood_wait', text, seconds: Math.max(1, seconds) };
    // 5xx and negative codes (-503 timeouts) are Telegram's own trouble: transient.
    if (err.code >= 500 || err.code < 0) return { kind: 'network', text };
    if (err.code === 400 && USER_INPUT.test(text)) return { kind: 'user_input', text, code: err.code };
    return { kind: 'telegram', text, code: err.code };
  }
  if (err instanceof MtTimeoutError) return { kind: 'network', text: 'TIMEOUT' };
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return { kind: 'network', text: 'TIMEOUT' };
    const errno = (err as NodeJS.ErrnoException).code;
    if (typeof errno === 'string' && NETWORK_ERRNOS.has(errno)) return { kind: 'network', text: errno };
    // The base class itself is used for connection trouble ("Not connected to any DC"); subclasses are not.
    if (err.constructor === MtcuteError) return { kind: 'network', text: 'CONNECTION' };
    if (err.message === 'Client is destroyed') return { kind: 'network', text: 'CLIENT_CLOSED' };
    if (/connection|socket|network|timed? ?out/i.test(err.message)) return { kind: 'network', text: 'CONNECTION' };
  }
  return { kind: 'telegram', text: 'UNKNOWN', code: 0 };
}
