/**
 * Server salts, per auth key. Time is cut into periods; each period's salt is derived from the key
 * itself (SHA-256 of key and period number), so salts survive a DC restart without being stored and
 * cannot be guessed without the key. A salt is accepted in its own period and its neighbours (clock
 * skew, a client switching to a future salt early). The salt the key exchange implies
 * (new_nonce[0:8] XOR server_nonce[0:8], which mtcute starts with) is accepted for the key's first
 * periods.
 */
import { createHash } from 'node:crypto';
import Long from 'long';
import type { FutureSalt } from '../tl/index.js';

export const SALT_PERIOD_SECONDS = 3600;
const FIRST_SALT_LIFETIME_MS = 2 * SALT_PERIOD_SECONDS * 1000;
const MAX_REMEMBERED_FIRST_SALTS = 100_000;

function periodOf(unixSeconds: number): number {
  return Math.floor(unixSeconds / SALT_PERIOD_SECONDS);
}

export function saltFor(authKey: Uint8Array, period: number): Long {
  const h = createHash('sha256').update('server-salt').update(authKey).update(String(period)).digest();
  return new Long(h.readInt32LE(0), h.readInt32LE(4));
}

export class SaltBook {
  /** keyId → first salt from the key exchange and when it stops being accepted. */
  private readonly firstSalts = new Map<string, { salt: Long; until: number }>();

  rememberFirstSalt(keyId: string, salt: Long, nowMs = Date.now()): void {
    if (this.firstSalts.size >= MAX_REMEMBERED_FIRST_SALTS) this.prune(nowMs, true);
    this.firstSalts.set(keyId, { salt, until: nowMs + FIRST_SALT_LIFETIME_MS });
  }

  forget(keyId: string): void {
    this.firstSalts.delete(keyId);
  }

  current(authKey: Uint8Array, nowMs = Date.now()): Long {
    return saltFor(authKey, periodOf(nowMs / 1000));
  }

  isValid(keyId: string, authKey: Uint8Array, salt: Long, nowMs = Date.now()): boolean {
    const p = periodOf(nowMs / 1000);
    for (let i = p - 1; i <= p + 1; i++) if (saltFor(authKey, i).eq(salt)) return true;
    const first = this.firstSalts.get(keyId);
    if (first) {
      if (first.until < nowMs) this.firstSalts.delete(keyId);
      else if (first.salt.eq(salt)) return true;
    }
    return false;
  }

  /** `count` salts starting with the current period's, for future_salts. */
  future(authKey: Uint8Array, count: number, nowMs = Date.now()): FutureSalt[] {
    const p = periodOf(nowMs / 1000);
    const out: FutureSalt[] = [];
    for (let i = 0; i < count; i++) {
      out.push({
        validSince: (p + i) * SALT_PERIOD_SECONDS,
        validUntil: (p + i + 1) * SALT_PERIOD_SECONDS,
        salt: saltFor(authKey, p + i),
      });
    }
    return out;
  }

  private prune(nowMs: number, evictOldest: boolean): void {
    for (const [id, v] of this.firstSalts) if (v.until < nowMs) this.firstSalts.delete(id);
    if (evictOldest && this.firstSalts.size >= MAX_REMEMBERED_FIRST_SALTS) {
      // Insertion order is creation order: drop the oldest tenth.
      let n = Math.ceil(MAX_REMEMBERED_FIRST_SALTS / 10);
      for (const id of this.firstSalts.keys()) {
        if (n-- <= 0) break;
        this.firstSalts.delete(id);
      }
    }
  }
}
