/**
 * The part of a SessionStore every backend shares: one in-memory document (session + auth state), one
 * writer (SerialQueue), "dirty" = the stored body differs from the wanted one, and failed writes kept in
 * memory, reported (persistenceError) and retried with a doubling delay. A backend says how it loads and
 * how one flush brings the stored copy to the in-memory state (files/account-files.ts,
 * postgres/session-store.ts). Whether anything is dirty is asked on every flush request, so the wanted
 * bodies are computed once per change, not once per question.
 */
import type { ITelegramStorageProvider } from '@mtcute/core';
import { applyMetaPatch, authContent, bodyOf, checkedAuthState, checkMetaPatch, metaOf, touchedAuthState } from './document-ops.js';
import { LOG_MESSAGES } from '../logging/messages.js';
import { emptyDocument, type SessionDocument } from './session-document.js';
import { SerialQueue } from './serial-queue.js';
import type { AuthStateFile, CreateStorageOptions, FutureAuthToken, LoadProblem, PersistenceError, SessionMeta, SessionStore, StoreLog } from './types.js';
import { exponentialDelayMs } from '../timing/backoff.js';

/** What is stored for a part, as far as the store knows: its content, null = absent, undefined = unknown. */
export type Stored = string | null | undefined;

export interface WriteBehindOptions {
  environment: string;
  log: StoreLog;
  /** Retry backoff after a failed write: first delay and cap (ms). */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export abstract class WriteBehindSessionStore implements SessionStore {
  protected readonly log: StoreLog;
  protected readonly queue = new SerialQueue(() => this.flushOnce());
  protected loaded = false;
  /** Replaced whole (setDocument, clearSession); changed in place only through update(), which the body memo counts on. */
  protected doc: SessionDocument;
  /** Bumped by every change made to `doc` in place (update()); with `doc` itself, keys the body memo. */
  private docRevision = 0;
  private bodyMemo: { doc: SessionDocument; revision: number; body: string } | undefined;
  private authMemo: { auth: AuthStateFile; content: string } | undefined;
  /** False after clearSession() until something is written again: no session should be stored. */
  protected sessionWanted = false;
  protected sessionStored: Stored = undefined;
  protected auth: AuthStateFile | undefined;
  protected authStored: Stored = undefined;
  /** Incremented by createStorage()/clearSession(): writes from older mtcute storages are ignored. */
  protected storageGeneration = 0;
  private lastError: PersistenceError | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Writes failed in a row (the retry waits grow with it). */
  private writeFailures = 0;

  constructor(private readonly base: WriteBehindOptions) {
    this.log = base.log;
    this.doc = emptyDocument(base.environment);
  }

  abstract load(): Promise<void>;
  abstract loadProblem(): LoadProblem | undefined;
  /** Future auth tokens outlive the session: each backend keeps them beside the document, not in it. */
  abstract futureAuthTokens(): FutureAuthToken[];
  abstract saveFutureAuthTokens(tokens: FutureAuthToken[]): Promise<void>;
  /** Brings the stored copy to the in-memory state. Never throws: failures go to recordFailure(). */
  protected abstract flushOnce(): Promise<void>;

  protected setDocument(doc: SessionDocument, fromStore: boolean): void {
    this.doc = doc;
    this.sessionWanted = fromStore;
  }

  // ---------- session ----------

  hasSession(): boolean {
    return this.doc.authKeys.size > 0;
  }

  /** Loads the provider's code (which needs mtcute, see telegram/load.ts) on first use. */
  async createStorage(options: CreateStorageOptions = {}): Promise<ITelegramStorageProvider> {
    const generation = ++this.storageGeneration;
    const initial = this.doc;
    const { createDocumentStorage } = await import('./mtcute-storage.js');
    return createDocumentStorage({
      initial,
      primaryDcs: options.primaryDcs,
      ...(options.updates ? { updates: options.updates } : {}),
      writer: {
        update: (change) => {
          if (generation !== this.storageGeneration) {
            this.log.warn({}, LOG_MESSAGES.replacedStorageWrite);
            return Promise.resolve();
          }
          return this.update(change);
        },
        save: () => (generation === this.storageGeneration ? this.flushIfDirty() : Promise.resolve()),
      },
    });
  }

  meta(): SessionMeta | undefined {
    return this.loaded ? metaOf(this.doc) : undefined;
  }

  async updateMeta(patch: Partial<SessionMeta>): Promise<void> {
    checkMetaPatch(this.doc, patch);
    await this.update((doc) => applyMetaPatch(doc, patch));
  }

  async clearSession(): Promise<void> {
    this.storageGeneration++; // the live mtcute storage must not write the dead key back
    this.doc = emptyDocument(this.base.environment);
    this.sessionWanted = false;
    await this.queue.requestFlush();
  }

  /** Apply a change to the document; persist when its body changed. */
  private update(change: (doc: SessionDocument) => void): Promise<void> {
    change(this.doc);
    this.docRevision++;
    this.sessionWanted = true;
    return this.flushIfDirty();
  }

  // ---------- auth state ----------

  authState(): AuthStateFile | undefined {
    return this.auth ? { ...this.auth } : undefined;
  }

  async writeAuthState(state: AuthStateFile): Promise<void> {
    this.auth = checkedAuthState(state);
    await this.flushIfDirty();
  }

  async touchAuthState(now: Date, minIntervalMs?: number): Promise<boolean> {
    const touched = touchedAuthState(this.auth, now, minIntervalMs);
    if (!touched) return false;
    this.auth = touched;
    await this.flushIfDirty();
    return true;
  }

  removeAuthState(): Promise<void> {
    this.auth = undefined;
    return this.flushIfDirty();
  }

  // ---------- persistence ----------

  persistenceError(): PersistenceError | undefined {
    return this.lastError ? { ...this.lastError } : undefined;
  }

  async close(): Promise<void> {
    this.clearRetryTimer();
    await this.flushIfDirty();
    await this.queue.idle();
    this.clearRetryTimer();
  }

  protected flushIfDirty(): Promise<void> {
    return this.isDirty() ? this.queue.requestFlush() : this.queue.idle();
  }

  protected isDirty(): boolean {
    return this.desiredSession() !== this.sessionStored || this.desiredAuth() !== this.authStored;
  }

  protected desiredSession(): string | null {
    if (!this.sessionWanted) return null;
    const memo = this.bodyMemo;
    if (memo?.doc === this.doc && memo.revision === this.docRevision) return memo.body;
    const body = bodyOf(this.doc);
    this.bodyMemo = { doc: this.doc, revision: this.docRevision, body };
    return body;
  }

  /** The auth state's stored content (`auth` is replaced, never changed in place, on every change). */
  protected desiredAuth(): string | null {
    if (!this.auth) return null;
    if (this.authMemo?.auth !== this.auth) this.authMemo = { auth: this.auth, content: authContent(this.auth) };
    return this.authMemo.content;
  }

  /** A write failed: kept in memory, reported (`logMessage`), retried on a doubling delay. */
  protected recordFailure(error: { file: string; code: string; message: string }, logMessage: string, fields: object = {}): void {
    this.lastError = { file: error.file, code: error.code, message: error.message, at: new Date().toISOString() };
    const delay = exponentialDelayMs(this.writeFailures + 1, this.base.retryInitialMs ?? 1000, this.base.retryMaxMs ?? 60_000);
    this.log.error({ ...fields, file: error.file, code: error.code, retryInMs: delay }, logMessage);
    if (!this.retryTimer) {
      this.writeFailures++;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.flushIfDirty();
      }, delay);
      this.retryTimer.unref();
    }
  }

  /** Everything is stored: the error (if any) is over, said once with `backAgain`. */
  protected recordSuccess(backAgain: string, fields: object = {}): void {
    if (this.lastError) this.log.info({ ...fields, file: this.lastError.file }, backAgain);
    this.lastError = undefined;
    this.writeFailures = 0;
    this.clearRetryTimer();
  }

  protected clearRetryTimer(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
