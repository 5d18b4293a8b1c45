/**
 * QR login tokens (core.telegram.org/api/qr-login). A `qr` token is exported by a key that wants to
 * log in; a logged-in user accepts it (auth.acceptLoginToken or the controls); the exporting key's
 * next auth.exportLoginToken then logs it in — or, when the user lives on the other DC, gets a
 * `migrate` token that auth.importLoginToken redeems there. Tokens are kept as digests only.
 */
import { newToken, tokenDigest } from './token-digest.js';

export interface LoginTokenRecord {
  digest: string;
  kind: 'qr' | 'migrate';
  /** qr: the DC the exporting key is on; migrate: the DC that may import it. */
  dcId: number;
  /** qr: the key that exported it and waits. */
  authKeyId?: string;
  /** qr: users who must not accept it (auth.exportLoginToken's except_ids), as decimal strings. */
  exceptIds: string[];
  createdAt: number;
  /** Unix ms; the client is told this rounded up to a whole second. */
  expiresAt: number;
  /** qr: the user who accepted it; migrate: the user it logs in. */
  userId?: number;
  acceptedAt?: number;
}

export interface LoginTokensSnapshot {
  tokens: LoginTokenRecord[];
}

/** Telegram's QR tokens live about 30 seconds. */
export const DEFAULT_LOGIN_TOKEN_LIFETIME_MS = 30_000;
/** An accepted token waits this long for its key to come back and export again. */
const ACCEPTED_GRACE_MS = 5 * 60_000;
/** A migrate token must be imported on the other DC within this time (a key exchange comes first). */
const MIGRATE_LIFETIME_MS = 2 * 60_000;
const MAX_TOKENS = 10_000;

/**
 * Until when a record is worth keeping: an accepted qr token until its key had time to come back; an
 * expired pending one a little longer, so using it answers AUTH_TOKEN_EXPIRED rather than INVALID.
 */
function keepUntil(r: LoginTokenRecord): number {
  if (r.kind === 'migrate') return r.expiresAt;
  if (r.userId !== undefined) return (r.acceptedAt ?? r.expiresAt) + ACCEPTED_GRACE_MS;
  return r.expiresAt + ACCEPTED_GRACE_MS;
}

export type TokenLookup =
  | { ok: true; record: LoginTokenRecord }
  | { ok: false; error: 'AUTH_TOKEN_INVALID' | 'AUTH_TOKEN_EXPIRED' };

export class LoginTokens {
  lifetimeMs = DEFAULT_LOGIN_TOKEN_LIFETIME_MS;
  private readonly byDigest = new Map<string, LoginTokenRecord>();
  /** Plain tokens of pending qr records, memory only: a repeated export before expiry shows the same QR code. */
  private readonly plain = new Map<string, Uint8Array>();

  constructor(
    private readonly onChange: () => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * auth.exportLoginToken without an accepted token: the key's pending token while it is valid
   * (the same QR code), else a new one.
   */
  export(authKeyId: string, dcId: number, exceptIds: string[]): { token: Uint8Array; expires: number } {
    this.purge();
    const now = this.now();
    for (const r of this.byDigest.values()) {
      const token = this.plain.get(r.digest);
      if (r.kind === 'qr' && r.authKeyId === authKeyId && r.userId === undefined && r.expiresAt > now && token) {
        r.exceptIds = exceptIds;
        this.onChange();
        return { token, expires: r.expiresAt / 1000 };
      }
    }
    const expires = Math.ceil((now + this.lifetimeMs) / 1000);
    const { token, record } = this.create({ kind: 'qr', dcId, authKeyId, exceptIds, expiresAt: expires * 1000 });
    this.plain.set(record.digest, token);
    return { token, expires };
  }

  /** The qr token this key exported that a user accepted (waiting for the key's next export), if any. */
  acceptedFor(authKeyId: string): LoginTokenRecord | undefined {
    this.purge();
    for (const r of this.byDigest.values()) {
      if (r.kind === 'qr' && r.authKeyId === authKeyId && r.userId !== undefined) return r;
    }
    return undefined;
  }

  find(token: Uint8Array): TokenLookup {
    const digest = tokenDigest(token);
    const record = digest === undefined ? undefined : this.byDigest.get(digest);
    if (!record) return { ok: false, error: 'AUTH_TOKEN_INVALID' };
    if (record.userId === undefined && record.expiresAt <= this.now()) return { ok: false, error: 'AUTH_TOKEN_EXPIRED' };
    if (record.kind === 'migrate' && record.expiresAt <= this.now()) return { ok: false, error: 'AUTH_TOKEN_EXPIRED' };
    return { ok: true, record };
  }

  /** The newest qr token still waiting to be scanned (for the controls' "accept the QR code on screen"). */
  latestPending(): LoginTokenRecord | undefined {
    const now = this.now();
    let latest: LoginTokenRecord | undefined;
    for (const r of this.byDigest.values()) {
      if (r.kind === 'qr' && r.userId === undefined && r.expiresAt > now && (!latest || r.createdAt >= latest.createdAt)) latest = r;
    }
    return latest;
  }

  accept(record: LoginTokenRecord, userId: number): void {
    record.userId = userId;
    record.acceptedAt = this.now();
    this.plain.delete(record.digest);
    this.onChange();
  }

  /** A token for auth.importLoginToken on the user's home DC. */
  issueMigration(userId: number, dcId: number): Uint8Array {
    return this.create({ kind: 'migrate', dcId, userId, exceptIds: [], expiresAt: this.now() + MIGRATE_LIFETIME_MS }).token;
  }

  consume(record: LoginTokenRecord): void {
    this.plain.delete(record.digest);
    if (this.byDigest.delete(record.digest)) this.onChange();
  }

  /** Forgets tokens exported by this key (it logged in some other way, or was removed). */
  forgetKey(authKeyId: string): void {
    for (const r of [...this.byDigest.values()]) if (r.authKeyId === authKeyId) this.consume(r);
  }

  snapshot(): LoginTokensSnapshot {
    const now = this.now();
    return { tokens: [...this.byDigest.values()].filter((r) => keepUntil(r) > now) };
  }

  restore(snapshot: LoginTokensSnapshot | undefined): void {
    this.byDigest.clear();
    this.plain.clear();
    for (const r of snapshot?.tokens ?? []) if (typeof r.digest === 'string') this.byDigest.set(r.digest, r);
    this.purge();
  }

  private create(fields: Omit<LoginTokenRecord, 'digest' | 'createdAt'>): { token: Uint8Array; record: LoginTokenRecord } {
    const token = newToken();
    const record: LoginTokenRecord = { ...fields, digest: tokenDigest(token)!, createdAt: this.now() };
    this.byDigest.set(record.digest, record);
    while (this.byDigest.size > MAX_TOKENS) {
      const oldest = this.byDigest.keys().next().value as string;
      this.byDigest.delete(oldest);
      this.plain.delete(oldest);
    }
    this.onChange();
    return { token, record };
  }

  /** Drops tokens nobody can use any more. */
  private purge(): void {
    const now = this.now();
    let changed = false;
    for (const r of [...this.byDigest.values()]) {
      if (keepUntil(r) <= now) {
        this.byDigest.delete(r.digest);
        this.plain.delete(r.digest);
        changed = true;
      }
    }
    if (changed) this.onChange();
  }
}
