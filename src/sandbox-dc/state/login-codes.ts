/**
 * Login codes, as auth.sendCode hands them out. A phone_code_hash is bound to the auth key that asked
 * for it (as on Telegram): signing in with it from another key fails. Kept in memory only: a DC restart
 * invalidates pending codes, the client simply asks again.
 */
import { randomBytes, randomInt } from 'node:crypto';

export interface PendingCode {
  phone: string;
  code: string;
  phoneCodeHash: string;
  authKeyId: string;
  dcId: number;
  createdAt: number;
  expiresAt: number;
  /** Wrong codes tried so far. */
  attempts: number;
  /** The right code was given but the number has no account yet: auth.signUp may follow. */
  verified: boolean;
}

export const CODE_LENGTH = 5;
export const MAX_CODE_ATTEMPTS = 5;
export const DEFAULT_CODE_LIFETIME_MS = 5 * 60_000;
/** Pending codes kept at most; the oldest are dropped beyond this (memory stays bounded). */
const MAX_PENDING = 10_000;

/**
 * Telegram's test-number convention: `99966 X YYYY` always gets the code X repeated 5 times.
 * Returns X, or undefined when `phone` (digits only) is not such a number.
 */
export function testNumberDigit(phone: string): number | undefined {
  const m = /^99966(\d)\d{4}$/.exec(phone);
  return m ? Number(m[1]) : undefined;
}

export type CodeCheck =
  | { ok: true; pending: PendingCode }
  | { ok: false; error: 'PHONE_CODE_HASH_EMPTY' | 'PHONE_CODE_EMPTY' | 'PHONE_CODE_HASH_INVALID' | 'PHONE_CODE_EXPIRED' | 'PHONE_CODE_INVALID' };

export class LoginCodes {
  private readonly byHash = new Map<string, PendingCode>();
  private readonly lastCodeByPhone = new Map<string, string>();

  constructor(public lifetimeMs: number = DEFAULT_CODE_LIFETIME_MS) {}

  issue(phone: string, authKeyId: string, dcId: number): PendingCode {
    const digit = testNumberDigit(phone);
    const code = digit !== undefined ? String(digit).repeat(CODE_LENGTH) : String(randomInt(0, 10 ** CODE_LENGTH)).padStart(CODE_LENGTH, '0');
    const now = Date.now();
    const pending: PendingCode = {
      phone,
      code,
      phoneCodeHash: randomBytes(9).toString('hex'),
      authKeyId,
      dcId,
      createdAt: now,
      expiresAt: now + this.lifetimeMs,
      attempts: 0,
      verified: false,
    };
    this.byHash.set(pending.phoneCodeHash, pending);
    this.lastCodeByPhone.delete(phone); // keep insertion order = recency
    this.lastCodeByPhone.set(phone, code);
    this.bound();
    return pending;
  }

  /** auth.resendCode: a fresh code (same one for test numbers) under the same hash, with a fresh lifetime. */
  reissue(pending: PendingCode): PendingCode {
    const digit = testNumberDigit(pending.phone);
    pending.code = digit !== undefined ? String(digit).repeat(CODE_LENGTH) : String(randomInt(0, 10 ** CODE_LENGTH)).padStart(CODE_LENGTH, '0');
    pending.expiresAt = Date.now() + this.lifetimeMs;
    pending.attempts = 0;
    pending.verified = false;
    this.lastCodeByPhone.set(pending.phone, pending.code);
    return pending;
  }

  /** Finds the pending code for (phone, hash) asked by this key, without checking the code itself. */
  find(phone: string, phoneCodeHash: string, authKeyId: string): CodeCheck {
    if (!phoneCodeHash) return { ok: false, error: 'PHONE_CODE_HASH_EMPTY' };
    const pending = this.byHash.get(phoneCodeHash);
    if (!pending || pending.phone !== phone || pending.authKeyId !== authKeyId) {
      return { ok: false, error: 'PHONE_CODE_HASH_INVALID' };
    }
    if (Date.now() > pending.expiresAt) return { ok: false, error: 'PHONE_CODE_EXPIRED' };
    return { ok: true, pending };
  }

  /** Checks a code; wrong codes count, and after MAX_CODE_ATTEMPTS the code is dead (PHONE_CODE_EXPIRED). */
  check(phone: string, phoneCodeHash: string, code: string, authKeyId: string): CodeCheck {
    const found = this.find(phone, phoneCodeHash, authKeyId);
    if (!found.ok) return found;
    const pending = found.pending;
    if (!code) return { ok: false, error: 'PHONE_CODE_EMPTY' };
    if (pending.attempts >= MAX_CODE_ATTEMPTS) return { ok: false, error: 'PHONE_CODE_EXPIRED' };
    if (code.trim() !== pending.code) {
      pending.attempts++;
      return { ok: false, error: 'PHONE_CODE_INVALID' };
    }
    return { ok: true, pending };
  }

  /** A used or cancelled code is gone. */
  consume(phoneCodeHash: string): boolean {
    return this.byHash.delete(phoneCodeHash);
  }

  lastCode(phone: string): string | undefined {
    return this.lastCodeByPhone.get(phone);
  }

  private bound(): void {
    const now = Date.now();
    if (this.byHash.size > MAX_PENDING) {
      for (const [hash, p] of this.byHash) {
        if (p.expiresAt < now || this.byHash.size > MAX_PENDING) this.byHash.delete(hash);
        if (this.byHash.size <= MAX_PENDING / 2) break;
      }
    }
    while (this.lastCodeByPhone.size > MAX_PENDING) {
      const oldest = this.lastCodeByPhone.keys().next().value as string;
      this.lastCodeByPhone.delete(oldest);
    }
  }
}
