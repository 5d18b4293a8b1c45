/**
 * Future auth tokens (core.telegram.org/api/auth#future-auth-tokens): handed out in auth.authorization
 * at login and in auth.loggedOut at logout; a later auth.sendCode that offers a valid one for the same
 * account in codeSettings.logout_tokens logs in without a code (auth.sentCodeSuccess) and uses it up.
 * Kept as digests, per user, each for a limited time.
 */
import { newToken, tokenDigest } from './token-digest.js';

export interface FutureAuthTokenRecord {
  digest: string;
  userId: number;
  issuedAt: number;
  expiresAt: number;
}

export interface FutureAuthTokensSnapshot {
  tokens: FutureAuthTokenRecord[];
}

export const DEFAULT_FUTURE_AUTH_TOKEN_LIFETIME_MS = 30 * 24 * 3600_000;
/** Clients keep at most 20 (the API docs); the DC keeps as many per user and forgets the oldest. */
export const MAX_FUTURE_AUTH_TOKENS_PER_USER = 20;
/** Tokens looked at per auth.sendCode (clients send at most 20). */
const MAX_OFFERED = 64;

export class FutureAuthTokens {
  lifetimeMs = DEFAULT_FUTURE_AUTH_TOKEN_LIFETIME_MS;
  private readonly byDigest = new Map<string, FutureAuthTokenRecord>();

  constructor(
    private readonly onChange: () => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  issue(userId: number): Uint8Array {
    const token = newToken();
    const digest = tokenDigest(token)!;
    const now = this.now();
    this.byDigest.set(digest, { digest, userId, issuedAt: now, expiresAt: now + this.lifetimeMs });
    const ofUser = [...this.byDigest.values()].filter((r) => r.userId === userId);
    for (const old of ofUser.slice(0, Math.max(0, ofUser.length - MAX_FUTURE_AUTH_TOKENS_PER_USER))) this.byDigest.delete(old.digest);
    this.onChange();
    return token;
  }

  /** Uses up the first offered token that is valid for `userId`; unknown, expired or other users' tokens are ignored. */
  redeem(offered: readonly Uint8Array[] | undefined, userId: number): boolean {
    const now = this.now();
    for (const token of (offered ?? []).slice(0, MAX_OFFERED)) {
      const digest = tokenDigest(token);
      const record = digest === undefined ? undefined : this.byDigest.get(digest);
      if (!record || record.userId !== userId) continue;
      if (record.expiresAt <= now) {
        this.byDigest.delete(record.digest);
        this.onChange();
        continue;
      }
      this.byDigest.delete(record.digest);
      this.onChange();
      return true;
    }
    return false;
  }

  /** How many valid tokens a user has (controls). */
  countFor(userId: number): number {
    const now = this.now();
    return [...this.byDigest.values()].filter((r) => r.userId === userId && r.expiresAt > now).length;
  }

  snapshot(): FutureAuthTokensSnapshot {
    const now = this.now();
    return { tokens: [...this.byDigest.values()].filter((r) => r.expiresAt > now) };
  }

  restore(snapshot: FutureAuthTokensSnapshot | undefined): void {
    this.byDigest.clear();
    for (const r of snapshot?.tokens ?? []) if (typeof r.digest === 'string') this.byDigest.set(r.digest, r);
  }
}
