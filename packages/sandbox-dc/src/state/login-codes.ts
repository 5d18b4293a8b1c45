/**
 * Login codes, as auth.sendCode hands them out. A phone_code_hash is bound to the auth key that asked
 * for it (as on Telegram): signing in with it from another key fails.
 *
 * Pending codes are persisted (so a client restarting between send-code and sign-in can still sign
 * in), but only as a salted SHA-256 digest: the plain code lives in memory only, for the controls'
 * lastCode().
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

export interface PendingCode {
  phone: string;
  /** SHA-256(phoneCodeHash + ':' + code), hex. */
  codeDigest: string;
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

export interface LoginCodesSnapshot {
  pending: PendingCode[];
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

function newCode(phone: string): string {
  const digit = testNumberDigit(phone);
  return digit !== undefined ? String(digit).repeat(CODE_LENGTH) : String(randomInt(0, 10 ** CODE_LENGTH)).padStart(CODE_LENGTH, '0');
}

function digest(phoneCodeHash: string, code: string): string {
  return createHash('sha256').update(`${phoneCodeHash}:${code}`).digest('hex');
}

export class LoginCodes {
  private readonly byHash = new Map<string, PendingCode>();
  /** Plain codes for the controls; memory only. */
  private readonly lastCodeByPhone = new Map<string, string>();

  constructor(
    public lifetimeMs: number = DEFAULT_CODE_LIFETIME_MS,
    private readonly onChange: () => void = () => {},
  ) {}

  issue(phone: string, authKeyId: string, dcId: number): PendingCode {
    const code = newCode(phone);
    const now = Date.now();
    const phoneCodeHash = randomBytes(9).toString('hex');
    const pending: PendingCode = {
      phone,
      codeDigest: digest(phoneCodeHash, code),
      phoneCodeHash,
      authKeyId,
      dcId,
      createdAt: now,
      expiresAt: now + this.lifetimeMs,
      attempts: 0,
      verified: false,
    };
    this.byHash.set(phoneCodeHash, pending);
    this.rememberCode(phone, code);
    this.bound();
    this.onChange();
    return pending;
  }

  /** auth.resendCode: a fresh code (same one for test numbers) under the same hash, with a fresh lifetime. */
  reissue(pending: PendingCode): PendingCode {
    const code = newCode(pending.phone);
    pending.codeDigest = digest(pending.phoneCodeHash, code);
    pending.expiresAt = Date.now() + this.lifetimeMs;
    pending.attempts = 0;
    pending.verified = false;
    this.rememberCode(pending.phone, code);
    this.onChange();
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
    const given = Buffer.from(digest(phoneCodeHash, code.trim()), 'hex');
    if (!timingSafeEqual(given, Buffer.from(pending.codeDigest, 'hex'))) {
      pending.attempts++;
      this.onChange();
      return { ok: false, error: 'PHONE_CODE_INVALID' };
    }
    return { ok: true, pending };
  }

  /** A used or cancelled code is gone. */
  consume(phoneCodeHash: string): boolean {
    const removed = this.byHash.delete(phoneCodeHash);
    if (removed) this.onChange();
    return removed;
  }

  /** The last code issued for a phone (test numbers: always derivable; others: until the DC restarts). */
  lastCode(phone: string): string | undefined {
    const digit = testNumberDigit(phone);
    if (digit !== undefined) return String(digit).repeat(CODE_LENGTH);
    return this.lastCodeByPhone.get(phone);
  }

  snapshot(): LoginCodesSnapshot {
    const now = Date.now();
    return { pending: [...this.byHash.values()].filter((p) => p.expiresAt > now) };
  }

  restore(snapshot: LoginCodesSnapshot | undefined): void {
    this.byHash.clear();
    for (const p of snapshot?.pending ?? []) {
      if (typeof p.codeDigest === 'string' && typeof p.phoneCodeHash === 'string') this.byHash.set(p.phoneCodeHash, p);
    }
  }

  private rememberCode(phone: string, code: string): void {
    this.lastCodeByPhone.delete(phone); // keep insertion order = recency
    this.lastCodeByPhone.set(phone, code);
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
