/**
 * Future auth tokens (core.telegram.org/api/auth#future-auth-tokens): Telegram hands one out with every
 * authorization and at every clean logout; offered in the next auth.sendCode (codeSettings.logout_tokens)
 * for the same number, they let Telegram log the new key in without a code (auth.sentCodeSuccess). An
 * account keeps the newest MAX_FUTURE_AUTH_TOKENS in its store. Tokens are secrets: never logged.
 */
import { MAX_FUTURE_AUTH_TOKENS, type FutureAuthToken, type SessionStore } from '../store/types.js';
import { phoneDigits } from './phone.js';

export interface EarnedToken {
  token: Uint8Array;
  /** The number it belongs to, when known (any form; kept as digits). */
  phone?: string | null;
  userId?: number;
}

/** The list with `earned` added as the newest (a token already kept is not kept twice). */
export function withToken(tokens: FutureAuthToken[], earned: EarnedToken, now: Date): FutureAuthToken[] {
  const bytes = Buffer.from(earned.token);
  const others = tokens.filter((t) => !bytes.equals(Buffer.from(t.token)));
  const digits = earned.phone ? phoneDigits(earned.phone) : '';
  const added: FutureAuthToken = {
    token: earned.token.slice(),
    receivedAt: now.toISOString(),
    ...(digits ? { phone: digits } : {}),
    ...(earned.userId ? { userId: earned.userId } : {}),
  };
  return [...others, added].slice(-MAX_FUTURE_AUTH_TOKENS);
}

/** Whether `token` is offered when `phone` logs in: that number's tokens, and those of no known number. */
function offeredFor(token: FutureAuthToken, phone: string): boolean {
  return token.phone === undefined || token.phone === phoneDigits(phone);
}

/** The tokens to offer when `phone` logs in, newest first. */
export function tokensToOffer(tokens: FutureAuthToken[], phone: string): Uint8Array[] {
  return tokens
    .filter((t) => offeredFor(t, phone))
    .reverse()
    .slice(0, MAX_FUTURE_AUTH_TOKENS)
    .map((t) => t.token);
}

/** The list without the tokens offered for `phone` (after Telegram refused a call because of them). */
export function withoutOffered(tokens: FutureAuthToken[], phone: string): FutureAuthToken[] {
  return tokens.filter((t) => !offeredFor(t, phone));
}

/** Adds `earned` to the store's tokens. */
export function keepToken(store: SessionStore, earned: EarnedToken, now: Date): Promise<void> {
  return store.saveFutureAuthTokens(withToken(store.futureAuthTokens(), earned, now));
}
