/**
 * Bearer tokens the DC hands out (QR login tokens, future auth tokens) are kept only as digests: a
 * state file never holds a token that could log anyone in.
 */
import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_BYTES = 32;

export function newToken(): Uint8Array {
  return new Uint8Array(randomBytes(TOKEN_BYTES));
}

/** SHA-256 of the token, hex; tokens of a plausible size only (anything else matches nothing). */
export function tokenDigest(token: Uint8Array): string | undefined {
  if (!(token instanceof Uint8Array) || token.length === 0 || token.length > 256) return undefined;
  return createHash('sha256').update(token).digest('hex');
}
