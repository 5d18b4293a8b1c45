/**
 * What the account service needs from the session store (session.json + auth_state.json).
 * session.json is also the backing file of the mtcute storage provider built by the store.
 */
import type { ITelegramStorageProvider } from '@mtcute/core';
import type { DcOptions } from '@mtcute/core/utils.js';

/** Exactly the seed's auth_state.json format. */
export interface AuthStateFile {
  user_auth: true;
  user_id: number;
  phone: string;
  saved_at: string; // ISO 8601
  version: '1.0';
}

/** A login in progress: enough to finish it after a restart (the auth key that asked is in session.json). */
export interface PendingLogin {
  phone: string;
  phoneCodeHash: string;
  dcId: number;
  codeType: string;
  codeLength?: number;
  nextType?: string;
  timeout?: number;
  sentAt: string; // ISO
  /** Set once the code was accepted and Telegram asked for the 2FA password. */
  passwordRequired?: { hint?: string };
}

/** Everything login-relevant in session.json besides mtcute's own data. */
export interface SessionMeta {
  /** Which Telegram the keys belong to: 'sandbox' | 'production' | 'test'. A key never crosses environments. */
  environment: string;
  pendingLogin?: PendingLogin;
  /** Method name → unix ms until which Telegram asked us to wait (FLOOD_WAIT). */
  floodWaits?: Record<string, number>;
}

/** Set when a write to the data directory failed; cleared by the next successful write. */
export interface PersistenceError {
  file: string;
  code: string; // errno code, e.g. ENOSPC, EROFS, EACCES
  message: string;
  at: string; // ISO
}

/** Why load() started without a session although session.json is there (told in status as `reason`). */
export interface LoadProblem {
  /** Stable code, e.g. SESSION_OF_OTHER_ENVIRONMENT. */
  reason: string;
  message: string;
}

export interface CreateStorageOptions {
  /**
   * The DCs the mtcute client is configured with (its `defaultDcs`). mtcute itself records the primary
   * DC only after a migration; with this, the first auth key of the primary DC is written together with
   * that DC's address, so session.json always names where its key belongs.
   */
  primaryDcs?: DcOptions;
}

/**
 * The session store: owns the data directory's two files. session.json holds mtcute's login-relevant
 * storage (auth keys per DC, primary DC and address, self user) *and* SessionMeta, as one document with
 * one writer, so an mtcute write and a meta write can never race each other on disk.
 */
export interface SessionStore {
  /** Read both files from disk (moving a corrupt file aside). Call before anything else, and again to "reload". */
  load(): Promise<void>;
  /** Whether session.json holds an auth key for some DC. */
  hasSession(): boolean;
  /**
   * An mtcute storage provider over the in-memory document. Auth key writes go through to disk at once;
   * salts, peers and update state stay in memory and never cause a rewrite. Asynchronous: the provider's
   * code (which needs mtcute) is loaded on first use.
   */
  createStorage(options?: CreateStorageOptions): Promise<ITelegramStorageProvider>;
  meta(): SessionMeta | undefined;
  updateMeta(patch: Partial<SessionMeta>): Promise<void>;
  authState(): AuthStateFile | undefined;
  writeAuthState(state: AuthStateFile): Promise<void>;
  /** Refresh saved_at if the last refresh is at least `minIntervalMs` old. Returns whether it wrote. */
  touchAuthState(now: Date, minIntervalMs?: number): Promise<boolean>;
  removeAuthState(): Promise<void>;
  /** Forget the auth keys and login data (session.json), keeping nothing of the dead key. */
  clearSession(): Promise<void>;
  /**
   * Set when load() left session.json untouched and started without a session (another environment's
   * file); cleared once this environment writes its own session.
   */
  loadProblem?(): LoadProblem | undefined;
  /** The last write failure, if the latest write attempt failed. */
  persistenceError(): PersistenceError | undefined;
  /** Write pending data (if any) and stop timers. */
  close(): Promise<void>;
}

/** The account the single-account API (/api/telegram) and an older single-account data directory mean. */
export const DEFAULT_ACCOUNT_ID = 'default';

/** A token scoped to one account, as stored: only a hash of its secret. */
export interface ScopedTokenRecord {
  id: string;
  /** SHA-256 of the token's secret part, hex. */
  hash: string;
  createdAt: string; // ISO
  label?: string;
}

/**
 * Where accounts live: which exist, each one's SessionStore, and their scoped tokens. The account layer
 * reaches storage only through this and SessionStore, so a backend is swapped without touching it.
 * Every method that answers has made its change durable (a crash after it returns loses nothing).
 */
export interface AccountsStore {
  /** Prepares the store (e.g. moves an older layout into place) and lists the existing account ids, sorted. */
  open(): Promise<string[]>;
  /** Creates an empty account; false when it exists already. */
  create(id: string): Promise<boolean>;
  /** Removes everything of the account (session, auth state, tokens), all at once as far as a crash can tell. */
  remove(id: string): Promise<void>;
  /** The account's session store (not loaded yet). */
  sessionStore(id: string, log: StoreLog): SessionStore;
  listTokens(id: string): Promise<ScopedTokenRecord[]>;
  /** Replaces the account's token list (only hashes reach the store). */
  saveTokens(id: string, tokens: ScopedTokenRecord[]): Promise<void>;
}

/** What a store logs to (pino-compatible). */
export interface StoreLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}
