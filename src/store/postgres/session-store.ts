/**
 * The PostgreSQL backend of SessionStore: one account's row in tgs_accounts. The same document as the
 * file backend — session.json's exact bytes (session-document.ts; AES-256-GCM with SESSION_ENCRYPTION_KEY,
 * session-crypto.ts) and auth_state.json's exact bytes (auth-state.ts) — and the same promises:
 *
 * - One in-memory document, one writer (SerialQueue); a write is answered once its transaction committed.
 *   Both columns are written by one UPDATE, so session and auth state can never disagree after a crash.
 * - Rewritten only when the body (everything but savedAt) or the auth state changed.
 * - A failed write (the database down or restarting) keeps serving from memory, reports
 *   persistenceError(), and is retried on the next write and on a backoff timer.
 * - Fencing: in a cluster every write carries the account's lease (holder + epoch) and commits only while
 *   that lease is still the account's and its instance's lease has not expired — checked in the same
 *   transaction, with the lease row share-locked (fence.ts), so a take-over and a late write of the former
 *   owner serialize. A write refused by the fence is never retried: onFenced() tells the owner it lost the account.
 * - Future auth tokens: the future_auth_tokens column holds future_auth_tokens.json's exact bytes
 *   (future-auth-tokens-document.ts); it outlives the session (a logout clears only the session columns).
 * - A damaged document, or one of another environment, is never read as a session: it is copied to
 *   tgs_set_aside (damaged: at once; another environment's: before this environment writes its own).
 *   An encrypted document the configured key does not open makes load() throw and blocks every write.
 */
import { AUTH_STATE_MAX_BYTES, decodeAuthState } from '../auth-state.js';
import { authContent, bodyOf } from '../document-ops.js';
import { SessionFileError } from '../errors.js';
import { copyTokens, decodeFutureAuthTokens, encodeFutureAuthTokens } from '../future-auth-tokens-document.js';
import { SerialQueue } from '../serial-queue.js';
import { assertEncryptionKey } from '../session-crypto.js';
import { SESSION_FILE_MAX_BYTES, decodeSessionFile, emptyDocument, encodeSessionFile } from '../session-document.js';
import type { FutureAuthToken, LoadProblem, StoreLog } from '../types.js';
import { WriteBehindSessionStore } from '../write-behind-store.js';
import { FencedError, fencedTransaction, type FencedTarget } from './fence.js';
import { pgErrorCode, pgErrorMessage } from './pool.js';
import { LOG_MESSAGES } from '../../logging/messages.js';

export interface PostgresSessionStoreOptions extends FencedTarget {
  environment: string;
  log: StoreLog;
  encryptionKey?: Uint8Array;
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Read only (status of an account held elsewhere): nothing is ever written, not even a repair. */
  readOnly?: boolean;
}

/** Where persistence errors say they happened. */
export const DATABASE_LABEL = 'postgres';

type Column = 'session' | 'auth_state';

export class PostgresSessionStore extends WriteBehindSessionStore {
  /** Load found a document we must not overwrite (encrypted, and the key is missing or wrong). */
  private writeBlock: SessionFileError | undefined;
  private foreign: LoadProblem | undefined;
  /** Columns to copy to tgs_set_aside in the transaction of the next write. */
  private setAsideNext: Array<{ column: Column; reason: string }> = [];
  private fenced = false;
  private futureTokens: FutureAuthToken[] = [];
  /** Encrypted with a key we do not have: never written over. */
  private futureTokensBlocked = false;
  /** Future auth token writes, one at a time in call order. */
  private readonly tokenWrites = new SerialQueue(async () => undefined);
  /** Completed writes (tests, bench). */
  writes = 0;

  constructor(private readonly opts: PostgresSessionStoreOptions) {
    super({ retryMaxMs: 30_000, ...opts });
    if (opts.encryptionKey) assertEncryptionKey(opts.encryptionKey);
  }

  private get where(): string {
    return `account ${this.opts.accountId} in PostgreSQL`;
  }

  // ---------- load ----------

  async load(): Promise<void> {
    await this.queue.run(() => this.loadExclusive());
    this.loaded = true;
    if (this.isDirty()) await this.queue.requestFlush();
  }

  private async loadExclusive(): Promise<void> {
    const { rows } = await this.opts.pool.query<{ session: Buffer | null; auth_state: Buffer | null; future_auth_tokens: Buffer | null }>(
      'SELECT session, auth_state, future_auth_tokens FROM tgs_accounts WHERE id = $1',
      [this.opts.accountId],
    );
    const row = rows[0];
    this.loadFutureTokens(row?.future_auth_tokens ?? null);
    this.writeBlock = undefined;
    this.foreign = undefined;
    this.setAsideNext = [];
    this.setDocument(emptyDocument(this.opts.environment), false);
    this.sessionStored = null;
    this.auth = undefined;
    this.authStored = null;
    if (row?.session) this.loadSession(row.session);
    if (this.foreign) return; // its auth state belongs to the other environment too: left as it is
    if (row?.auth_state) this.loadAuthState(row.auth_state);
  }

  private loadSession(bytes: Buffer): void {
    const label = `session of ${this.where}`;
    try {
      if (bytes.length > SESSION_FILE_MAX_BYTES) throw new SessionFileError(label, 'too_large', `${label} is ${bytes.length} bytes`);
      const decoded = decodeSessionFile(label, bytes, { environment: this.opts.environment, encryptionKey: this.opts.encryptionKey });
      this.setDocument(decoded.doc, true);
      // Stored unencrypted while a key is configured (or the reverse): rewritten at once in the configured form.
      this.sessionStored = decoded.encrypted === !!this.opts.encryptionKey ? bodyOf(decoded.doc) : undefined;
      if (this.sessionStored === undefined) this.log.info({ account: this.opts.accountId }, 'The stored session is not in the configured encryption form; rewriting it');
    } catch (err) {
      if (!(err instanceof SessionFileError)) throw err;
      if (err.reason === 'decrypt_failed' || err.reason === 'encryption_key_missing') {
        this.writeBlock = err;
        this.authStored = undefined; // unknown: nothing is written over it
        this.log.error({ account: this.opts.accountId, reason: err.reason }, err.message);
        throw err;
      }
      if (err.reason === 'environment_mismatch') {
        this.foreign = { reason: 'SESSION_OF_OTHER_ENVIRONMENT', message: err.message };
        this.log.warn({ account: this.opts.accountId, reason: this.foreign.reason }, `${err.message}. Starting logged out and leaving it untouched`);
        return;
      }
      this.log.error({ account: this.opts.accountId, reason: err.reason }, `${err.message}; set aside (tgs_set_aside), starting without a session`);
      this.setAsideNext.push({ column: 'session', reason: err.reason });
      this.sessionStored = undefined; // a write clears it
    }
  }

  private loadAuthState(bytes: Buffer): void {
    const label = `auth state of ${this.where}`;
    try {
      if (bytes.length > AUTH_STATE_MAX_BYTES) throw new SessionFileError(label, 'too_large', `${label} is ${bytes.length} bytes`);
      this.auth = decodeAuthState(label, bytes);
      this.authStored = authContent(this.auth);
    } catch (err) {
      if (!(err instanceof SessionFileError)) throw err;
      this.log.error({ account: this.opts.accountId, reason: err.reason }, `${err.message}; set aside (tgs_set_aside)`);
      this.setAsideNext.push({ column: 'auth_state', reason: err.reason });
      this.authStored = undefined;
    }
  }

  // ---------- future auth tokens: a column of their own, outliving the session ----------

  private loadFutureTokens(bytes: Buffer | null): void {
    this.futureTokens = [];
    this.futureTokensBlocked = false;
    if (!bytes) return;
    const label = `future auth tokens of ${this.where}`;
    ({ tokens: this.futureTokens, blocked: this.futureTokensBlocked } = decodeFutureAuthTokens(label, bytes, { ...this.opts, fields: { account: this.opts.accountId } }));
  }

  futureAuthTokens(): FutureAuthToken[] {
    return copyTokens(this.futureTokens);
  }

  /** Written at once, fenced like every write; a failure is logged and the tokens stay in memory for this run. */
  saveFutureAuthTokens(tokens: FutureAuthToken[]): Promise<void> {
    this.futureTokens = copyTokens(tokens);
    if (this.futureTokensBlocked || this.opts.readOnly || this.fenced) return Promise.resolve();
    const bytes = Buffer.from(encodeFutureAuthTokens(this.futureTokens, this.opts.environment, this.opts.encryptionKey), 'utf8');
    return this.tokenWrites.run(async () => {
      try {
        await fencedTransaction(this.opts, (client) => client.query('UPDATE tgs_accounts SET future_auth_tokens = $2 WHERE id = $1', [this.opts.accountId, bytes]));
      } catch (err) {
        if (err instanceof FencedError) this.fenced = true;
        this.log.warn({ account: this.opts.accountId, code: err instanceof FencedError ? 'FENCED' : pgErrorCode(err) }, LOG_MESSAGES.futureTokensNotWritten);
      }
    });
  }

  loadProblem(): LoadProblem | undefined {
    return this.foreign ? { ...this.foreign } : undefined;
  }

  /** Bring the row to the in-memory state. Never throws: failures are recorded and retried. */
  protected async flushOnce(): Promise<void> {
    if (this.fenced || this.opts.readOnly || !this.isDirty()) return;
    if (this.writeBlock) {
      this.recordWriteFailure('EBLOCKED', `not overwriting the stored session: ${this.writeBlock.reason}`);
      return;
    }
    const session = this.desiredSession();
    const auth = this.desiredAuth();
    const sessionBytes = session === null ? null : encodeSessionFile(this.doc, { savedAt: new Date(), encryptionKey: this.opts.encryptionKey });
    const authBytes = auth === null ? null : Buffer.from(auth, 'utf8');
    const setAside = [...this.setAsideNext, ...(this.foreign ? (['session', 'auth_state'] as const).map((column) => ({ column, reason: 'other-environment' })) : [])];
    try {
      await this.write(sessionBytes, authBytes, setAside);
    } catch (err) {
      if (err instanceof FencedError) {
        this.fenced = true;
        this.clearRetryTimer();
        this.log.warn({ account: this.opts.accountId }, 'A write was refused: this instance no longer holds the account (its lease moved on); nothing more is written from here');
        return;
      }
      this.recordWriteFailure(pgErrorCode(err), pgErrorMessage(err));
      return;
    }
    this.sessionStored = session;
    this.authStored = auth;
    this.setAsideNext = [];
    this.foreign = undefined;
    this.writes++;
    this.recordSuccess('PostgreSQL writable again; pending data written', { account: this.opts.accountId });
  }

  private async write(session: Buffer | null, auth: Buffer | null, setAside: Array<{ column: Column; reason: string }>): Promise<void> {
    await fencedTransaction(this.opts, async (client) => {
      // Set aside what is there before it is overwritten (rolled back with the write if it fails).
      for (const { column, reason } of setAside) await client.query(SET_ASIDE[column], [this.opts.accountId, reason]);
      const updated = await client.query(UPDATE_SESSION, [this.opts.accountId, session, auth]);
      if (updated.rowCount === 0) throw new FencedError(); // the account is gone
    });
  }

  private recordWriteFailure(code: string, message: string): void {
    this.recordFailure({ file: DATABASE_LABEL, code, message }, `writing the account to PostgreSQL failed (${code}); serving from memory and retrying`, {
      account: this.opts.accountId,
    });
  }
}

const UPDATE_SESSION = `
  UPDATE tgs_accounts SET session = $2, session_saved_at = CASE WHEN $2::bytea IS NULL THEN NULL ELSE now() END, auth_state = $3
  WHERE id = $1`;

const SET_ASIDE: Record<Column, string> = {
  session: "INSERT INTO tgs_set_aside (account_id, what, reason, document) SELECT id, 'session', $2, session FROM tgs_accounts WHERE id = $1 AND session IS NOT NULL",
  auth_state:
    "INSERT INTO tgs_set_aside (account_id, what, reason, document) SELECT id, 'auth_state', $2, auth_state FROM tgs_accounts WHERE id = $1 AND auth_state IS NOT NULL",
};

