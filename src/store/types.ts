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

/**
 * A QR login in progress (the key that exports the tokens is in session.json): enough to go on after a
 * restart with a new token, or with the 2FA password once the code was scanned.
 */
export interface PendingQrLogin {
  startedAt: string; // ISO
  /** Set once the code was scanned and Telegram asked for the 2FA password. */
  passwordRequired?: { hint?: string };
}

/** How the session was logged in: a login code, a QR code, or a future auth token (no code). */
export type LoginMethod = 'code' | 'qr' | 'future_auth_token';

/** Everything login-relevant in session.json besides mtcute's own data. */
export interface SessionMeta {
  /** Which Telegram the keys belong to: 'sandbox' | 'production' | 'test'. A key never crosses environments. */
  environment: string;
  pendingLogin?: PendingLogin;
  qrLogin?: PendingQrLogin;
  /** How the current session was logged in (absent for sessions logged in before this was recorded). */
  loginMethod?: LoginMethod;
  /** Method name → unix ms until which Telegram asked us to wait (FLOOD_WAIT). */
  floodWaits?: Record<string, number>;
}

/**
 * A future auth token Telegram handed out at a login or a logout (core.telegram.org/api/auth): offered
 * in the next login's codeSettings.logout_tokens, it lets that login finish without a code. As secret as
 * an auth key: kept only by the store (encrypted like session.json), never logged.
 */
export interface FutureAuthToken {
  token: Uint8Array;
  /** The number it was earned with (digits only), when known: offered only when that number logs in. */
  phone?: string;
  userId?: number;
  receivedAt: string; // ISO
}

/** Telegram takes at most this many tokens in logout_tokens; the store keeps the newest this many. */
export const MAX_FUTURE_AUTH_TOKENS = 20;

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
  /**
   * Where mtcute's updates state lives (it is never written to session.json): the state the updates loop
   * starts from, and the sink told each time mtcute saves it. Without it the state stays in memory.
   */
  updates?: UpdateStateBinding;
}

/**
 * mtcute's common updates state (updates.getState: pts, qts, date, seq) and its channels' pts: where
 * catching up starts after a restart.
 */
export interface UpdateState {
  pts: number;
  qts: number;
  date: number;
  seq: number;
  /** Channel id → its pts (absent when there are none). */
  channels?: Record<string, number>;
}

export interface UpdateStateBinding {
  /** The state to start from (the last one made durable after the events it covers). */
  initial: UpdateState | null;
  /**
   * mtcute saved its state. Called only after every update that state covers was dispatched (mtcute saves
   * at the end of its loop's tick), so whoever keeps it must keep it after the events it got before.
   */
  saved(state: UpdateState): void;
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
   * The account's future auth tokens, oldest first. They outlive the session (logout, expiry, a lost
   * session.json): they are what lets the next login skip the code.
   */
  futureAuthTokens(): FutureAuthToken[];
  /** Replaces the list (only the newest MAX_FUTURE_AUTH_TOKENS are kept). A failed write is logged, not thrown. */
  saveFutureAuthTokens(tokens: FutureAuthToken[]): Promise<void>;
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

// ───────────────────────────── events, webhooks, idempotency keys ─────────────────────────────

/** An event to journal: what happened (`type`, `data`), when it was journaled, and its dedupe key. */
export interface NewJournalEvent {
  type: string;
  /** Identifies the update it came from (e.g. `n:<peer>:<message id>`): the same update twice has the same key. */
  key: string;
  /** ISO 8601: when it was journaled. */
  at: string;
  data: Record<string, unknown>;
}

export interface JournalEvent extends NewJournalEvent {
  /** 1, 2, 3, … per account: never reused, never out of order, even across restarts and resets. */
  id: number;
}

/** What an opened journal holds. */
export interface JournalOpened {
  /** The oldest retained event's id (lastId + 1 when the journal holds none). */
  firstId: number;
  lastId: number;
  /** The newest update state appended (null when none, or after a reset). */
  updateState: UpdateState | null;
  /** The keys of the newest events (since the last reset; at most the journal's key window), oldest first. */
  recentKeys: string[];
}

/** Retention: the journal keeps at most this much, dropping its oldest events first. */
export interface JournalRetention {
  maxBytes: number;
  maxAgeMs: number;
}

/**
 * One account's event journal: append-only, ids in order, durable on append. Events and the update state
 * that covers them are appended together, state after its events, so that after any crash the stored
 * state never covers an event the journal lacks (catching up from it can repeat events, never skip one).
 * Every backend passes test/unit/event-journal.contract.ts.
 */
export interface EventJournal {
  /** Reads what is there (repairing a write cut short by a crash). Call once, before anything else. */
  open(): Promise<JournalOpened>;
  /**
   * Appends `events` (ids lastId + 1, …) and then, when given, `updateState` (null: forget the state and the
   * keys, e.g. when the session ended). Resolves once all of it is on stable storage; a crash keeps a prefix.
   * Appends run one at a time, in call order.
   */
  append(events: NewJournalEvent[], updateState?: UpdateState | null): Promise<JournalEvent[]>;
  /** Events with id > afterId, oldest first, at most `limit`. */
  read(afterId: number, limit: number): Promise<JournalEvent[]>;
  /** The retained ids right now. */
  bounds(): { firstId: number; lastId: number };
  /** The space it takes right now, in bytes (what EVENTS_MAX_SIZE bounds; for metrics). */
  bytes(): number;
  /** Applies retention now (appends apply it too). */
  applyRetention(now: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Another instance's view of an account's journal (a cluster: SSE and polling served from the database by
 * an instance that does not hold the account): what is committed, read only.
 */
export interface EventJournalReader {
  /** Reads the bounds again; false when the account no longer exists. */
  refresh(): Promise<boolean>;
  /** The bounds as of the last refresh. */
  bounds(): { firstId: number; lastId: number };
  /** Committed events with id > afterId (up to the refreshed lastId), oldest first, at most `limit`. */
  read(afterId: number, limit: number): Promise<JournalEvent[]>;
}

/** Who set a webhook: the admin token, or a token scoped to the account (stricter targets). */
export type WebhookSetter = 'admin' | 'account';

export interface WebhookConfig {
  url: string;
  /** Signs every delivery (HMAC-SHA256); never shown again after it is set. */
  secret: string;
  setBy: WebhookSetter;
  createdAt: string; // ISO
}

/** A webhook and how far its delivery got (the last event the receiver acknowledged). */
export interface WebhookRecord {
  config: WebhookConfig | null;
  deliveredId: number;
}

/** One account's webhook and its delivery cursor. */
export interface WebhookStore {
  load(): Promise<WebhookRecord>;
  /** Durable when it resolves. */
  save(record: WebhookRecord): Promise<void>;
}

/** A remembered Idempotency-Key of POST /messages. */
export interface IdempotencyRecord {
  key: string;
  /** SHA-256 of the request it was first used with: the same key with another request is refused. */
  requestHash: string;
  /** pending: the send may or may not have reached Telegram; done: `answer` is what was answered. */
  state: 'pending' | 'done';
  /** The random_id the message is sent with (decimal int64), the same on every retry. */
  randomId: string;
  /** What finds the message again when the outcome is unknown: its chat (marked peer id) and SHA-256 of its text. */
  peer?: number;
  textHash?: string;
  createdAt: string; // ISO
  expiresAt: string; // ISO
  answer?: { status: number; body: unknown };
}

/** One account's Idempotency-Keys, each kept until it expires. */
export interface IdempotencyStore {
  open(): Promise<void>;
  get(key: string): Promise<IdempotencyRecord | undefined>;
  /** Durable when it resolves. */
  put(record: IdempotencyRecord): Promise<void>;
  remove(key: string): Promise<void>;
  /** Message ids already answered for other keys (so two keys never claim one message). */
  claimedMessageIds(peer: number): Promise<ReadonlySet<number>>;
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
  /** The account's event journal (not opened yet). */
  eventJournal(id: string, log: StoreLog, retention: JournalRetention): EventJournal;
  /** The account's webhook and delivery cursor. */
  webhookStore(id: string, log: StoreLog): WebhookStore;
  /** The account's Idempotency-Keys (not opened yet); each is forgotten at its `expiresAt`. */
  idempotencyStore(id: string, log: StoreLog): IdempotencyStore;
}

/** What a store logs to (pino-compatible). */
export interface StoreLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}
