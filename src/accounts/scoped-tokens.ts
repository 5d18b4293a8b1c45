/**
 * Tokens scoped to one account: `tgs_<id>_<secret>`, where id is 16 hex characters (public, names the
 * token in lists and revocations) and secret is 32 random bytes in base64url. Only SHA-256 of the secret
 * is stored; the token is shown once, when created.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScopedTokenRecord } from '../store/types.js';

const TOKEN = /^tgs_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface IssuedToken {
  token: string;
  record: ScopedTokenRecord;
}

export function issueToken(now: Date, label?: string): IssuedToken {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return {
    token: `tgs_${id}_${secret}`,
    record: { id, hash: hashSecret(secret), createdAt: now.toISOString(), ...(label ? { label } : {}) },
  };
}

/** The token's id and secret, when it has the shape of a scoped token. */
export function parseToken(token: string): { id: string; secret: string } | undefined {
  const match = TOKEN.exec(token);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  return timingSafeEqual(Buffer.from(hashSecret(secret), 'hex'), Buffer.from(storedHash, 'hex'));
}
