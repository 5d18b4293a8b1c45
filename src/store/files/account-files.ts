/**
 * The session store (see types.ts): session.json and auth_state.json in DATA_DIR.
 *
 * - One in-memory document, one writer (SerialQueue): mtcute's writes and meta writes never interleave.
 * - session.json is rewritten only when its body (everything but savedAt) changed.
 * - session.json.bak (last-known-good copy) follows session.json once its writes settle: BACKUP_DELAY_MS
 *   after the first write it has not copied yet, of the newest content then, beside the store's queue —
 *   a burst of writes is copied once, and no session.json write waits for (or shares the disk's flushes
 *   with) a copy. close() and a load copy what is due at once; a clear drops it. A kill -9 at any moment
 *   leaves each file whole, old or new (both are atomic and durable writes); the copy is then at most
 *   BACKUP_DELAY_MS older than session.json — still a session that was good.
 * - A failed write (ENOSPC, EROFS, EIO, …) leaves the old file in place; the store keeps serving from
 *   memory, reports persistenceError(), logs, and retries on the next write and on a backoff timer.
 * - Load never throws for a damaged file: it is moved aside (session.json.corrupt-<time>) and the store
 *   starts from the good copy or with no session. "Damaged" includes empty, truncated, not JSON, wrong
 *   shape, unknown version, over 1 MiB, unreadable, and not a regular file. A symlinked session.json is
 *   never read through (O_NOFOLLOW): the link itself is moved aside (its target is left alone) and the
 *   next write creates a regular 0600 file — following it would let whoever controls the link choose
 *   which keys we load. A session.json missing while session.json.bak exists means no session: the good
 *   copy replaces a damaged file, it never resurrects a deleted one. It does throw, touching nothing, when the file is
 *   encrypted and the key is missing or wrong — a configuration error, and guessing would destroy a valid session.
 * - A session.json of another environment (production keys seen by a sandbox service, …) is left untouched, with
 *   session.json.bak and auth_state.json: the store starts without a session and says why (loadProblem()). Only
 *   when this environment writes its own session are the three moved aside (`<name>.other-environment-<time>`),
 *   never overwritten.
 * - A group/world-readable session.json.bak is tightened to 0600 at load, like the files that are read.
 */
import { lstatSync, type Stats } from 'node:fs';
import path from 'node:path';
import {
  ensurePrivateDir,
  moveAside,
  removeFileDurable,
  removeStaleTempFilesOf,
  setAside,
  tightenFileMode,
  writeFileAtomic,
} from '@telegram-service/durable-files';
import { AUTH_STATE_MAX_BYTES, decodeAuthState } from '../auth-state.js';
import { PersistenceWriteError, SessionFileError, errnoCode } from '../errors.js';
import { readPrivateFile } from './safe-read.js';
import { FileCheckRounds } from './file-check-rounds.js';
import { assertEncryptionKey } from '../session-crypto.js';
import {
  SESSION_FILE_MAX_BYTES,
  decodeSessionFile,
  emptyDocument,
  encodeSessionFile,
  type SessionDocument,
} from '../session-document.js';
import { FUTURE_AUTH_TOKENS_FILE_NAME, FutureAuthTokensFile } from './future-auth-tokens-file.js';
import { authContent, bodyOf } from '../document-ops.js';
import { WriteBehindSessionStore, type Stored } from '../write-behind-store.js';
import type { FutureAuthToken, LoadProblem, StoreLog } from '../types.js';
import { LOG_MESSAGES } from '../../logging/messages.js';

export const SESSION_FILE_NAME = 'session.json';
export const SESSION_BACKUP_FILE_NAME = 'session.json.bak';
export const AUTH_STATE_FILE_NAME = 'auth_state.json';
/** How long session.json.bak lags a session.json write at most (see the module comment). */
export const BACKUP_DELAY_MS = 1_000;
/** How often a store's files are checked at most (ms; see FileCheckRounds for many accounts). */
export const VERIFY_INTERVAL_MS = 5_000;


export interface SessionStoreOptions {
  dataDir: string;
  environment: string;
  log: StoreLog;
  /** 32 bytes: session.json (and its good copy) are AES-256-GCM encrypted at rest. */
  encryptionKey?: Uint8Array;
  /**
   * How often the files are checked against what the store last wrote (ms, default 5 s; 0 = never): a
   * file removed or replaced while running is written back from memory.
   */
  verifyIntervalMs?: number;
  /** The data directory's shared check rounds (the accounts store's): verifyIntervalMs is then theirs. */
  checkRounds?: FileCheckRounds;
  /** Retry backoff after a failed write: first delay and cap (ms). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** How long session.json.bak may lag a write (ms, default BACKUP_DELAY_MS). */
  backupDelayMs?: number;
}

export function createSessionStore(opts: SessionStoreOptions): FileSessionStore {
  return new FileSessionStore(opts);
}

export class FileSessionStore extends WriteBehindSessionStore {
  readonly sessionFile: string;
  readonly backupFile: string;
  readonly authStateFile: string;
  readonly futureTokensFile: string;

  /** Set when load found a file we must not overwrite (encrypted, and the key is missing or wrong). */
  private sessionWriteBlock: SessionFileError | undefined;
  /** Set when session.json belongs to another environment: its files are left alone until we must write ours. */
  private foreign: LoadProblem | undefined;
  /** future_auth_tokens.json: outlives the session, so it is not part of the document. */
  private readonly futureTokens: FutureAuthTokensFile;
  /** Count of completed session.json writes (for tests and the bench). */
  sessionWrites = 0;
  /** Identifies the newest session.json content; a good-copy write of anything older is skipped. */
  private sessionVersion = 0;
  /** The good copy being written (undefined: none), and the newest content still to copy after it. */
  private backupWriting: Promise<void> | undefined;
  private backupDue: { bytes: Buffer; version: number } | undefined;
  /** Starts the copy of what is due, BACKUP_DELAY_MS after the first write not copied yet. */
  private backupTimer: NodeJS.Timeout | undefined;
  /** Each file as the store last wrote or read it (inode, size, mtime): a change means someone else touched it. */
  private readonly identities = new Map<string, FileIdentity>();
  /** Ends this store's place in the check rounds. */
  private stopVerifying: (() => void) | undefined;

  constructor(private readonly opts: SessionStoreOptions) {
    super(opts);
    if (opts.encryptionKey) assertEncryptionKey(opts.encryptionKey);
    this.sessionFile = path.join(opts.dataDir, SESSION_FILE_NAME);
    this.backupFile = path.join(opts.dataDir, SESSION_BACKUP_FILE_NAME);
    this.authStateFile = path.join(opts.dataDir, AUTH_STATE_FILE_NAME);
    this.futureTokensFile = path.join(opts.dataDir, FUTURE_AUTH_TOKENS_FILE_NAME);
    this.futureTokens = new FutureAuthTokensFile({
      file: this.futureTokensFile,
      environment: opts.environment,
      log: opts.log,
      ...(opts.encryptionKey ? { encryptionKey: opts.encryptionKey } : {}),
    });
  }

  // ---------- load ----------

  async load(): Promise<void> {
    const needsWrite = await this.queue.run(async () => {
      await this.copyDueBackup(); // a load reads and tidies session.json.bak: never while it is written
      const needsWrite = await this.loadExclusive();
      this.identities.clear();
      for (const [file, onDisk] of this.believedFiles()) if (typeof onDisk === 'string') await this.rememberIdentity(file);
      return needsWrite;
    });
    await this.futureTokens.load();
    this.loaded = true;
    if (needsWrite) await this.queue.requestFlush();
    this.armVerify();
  }

  // ---------- future auth tokens ----------

  futureAuthTokens(): FutureAuthToken[] {
    return this.futureTokens.list();
  }

  saveFutureAuthTokens(tokens: FutureAuthToken[]): Promise<void> {
    return this.futureTokens.save(tokens);
  }

  // ---------- files lost while running ----------

  /** The files whose content the store knows, with what it believes is on disk. */
  private believedFiles(): Array<[string, Stored]> {
    return [
      [this.sessionFile, this.sessionStored],
      [this.authStateFile, this.authStored],
    ];
  }

  private async rememberIdentity(file: string): Promise<void> {
    const stat = lstatQuietly(file);
    if (stat) this.identities.set(file, identityOf(stat));
    else this.identities.delete(file);
  }

  private armVerify(): void {
    if (this.stopVerifying) return;
    const rounds = this.opts.checkRounds ?? new FileCheckRounds({ minIntervalMs: this.opts.verifyIntervalMs ?? VERIFY_INTERVAL_MS, spacingMs: 0 });
    this.stopVerifying = rounds.add(() => this.verify());
  }

  /**
   * Checks the files against what the store last wrote. One removed (a cleaner, a mistaken rm) or replaced
   * (someone else's file, a directory in its place) while the service runs would be lost at the next start —
   * session.json gone reads as "logged out" — so the store says so and writes its own content back.
   */
  async verify(): Promise<void> {
    const lost = await this.queue.run(async () => {
      if (this.sessionWriteBlock || this.foreign) return false;
      let changed = false;
      for (const [file, onDisk] of this.believedFiles()) {
        if (typeof onDisk !== 'string') continue;
        const stat = lstatQuietly(file);
        const known = this.identities.get(file);
        if (stat && stat.isFile() && (!known || sameIdentity(identityOf(stat), known))) continue;
        const what = stat ? 'was replaced' : 'was removed';
        this.log.error({ file, reason: stat ? 'replaced' : 'removed' }, LOG_MESSAGES.fileLostWhileRunning(path.basename(file), what));
        if (file === this.sessionFile) this.sessionStored = undefined;
        else this.authStored = undefined;
        changed = true;
      }
      return changed;
    });
    if (lost) await this.flushIfDirty();
  }

  /**
   * writeFileAtomic that heals what stands in the way: a missing directory is created again (0700), and a
   * directory or other non-file where the file belongs is moved aside (as load does) — never written into.
   */
  private async writeHealing(file: string, data: Uint8Array | string): Promise<void> {
    try {
      await writeFileAtomic(file, data);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') {
        await ensurePrivateDir(path.dirname(file));
        this.log.warn({ file }, `the directory of ${path.basename(file)} was gone; created it again`);
      } else if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') {
        const movedTo = await moveAside(file, 'obstacle');
        this.log.warn({ file, movedTo }, `${path.basename(file)} was blocked by something that is not a file; moved it aside to ${path.basename(movedTo)}`);
      } else {
        throw err;
      }
      await writeFileAtomic(file, data);
    }
    await this.rememberIdentity(file);
  }

  /** Returns whether session.json must be (re)written now (restored from the good copy, or to encrypt it). */
  private async loadExclusive(): Promise<boolean> {
    const dir = await ensurePrivateDir(this.opts.dataDir);
    for (const warning of dir.warnings) this.log.warn({ dataDir: this.opts.dataDir }, warning);

    if (this.loaded && this.isDirty() && !this.sessionWriteBlock) {
      // A reload while a write is failing would drop data that exists only in memory: try once more,
      // and if the disk still refuses, keep serving the in-memory state.
      await this.flushOnce();
      if (this.isDirty()) {
        this.log.warn({ file: this.sessionFile }, 'reload skipped: unsaved session data exists only in memory');
        return false;
      }
    }
    // Temp files of writes cut short by a crash (the lock guarantees no other process is writing).
    const stale = await removeStaleTempFilesOf([this.sessionFile, this.backupFile, this.authStateFile, this.futureTokensFile]);
    for (const [file, removed] of stale) {
      if (removed > 0) this.log.info({ file, removed }, LOG_MESSAGES.tempFilesRemoved);
    }
    this.sessionWriteBlock = undefined;
    this.foreign = undefined;
    const main = await this.readSessionFile(this.sessionFile);
    let needsWrite = false;
    if (main.kind === 'foreign') {
      this.foreign = { reason: 'SESSION_OF_OTHER_ENVIRONMENT', message: main.message };
      this.log.warn(
        { file: this.sessionFile, reason: this.foreign.reason },
        `${main.message}. Starting logged out and leaving it untouched; a login here moves it aside ` +
          `(${SESSION_FILE_NAME}.other-environment-<time>) before writing this environment's session`,
      );
      this.setDocument(emptyDocument(this.opts.environment), false);
      this.sessionStored = null; // as far as this environment is concerned: no session.json, no auth_state.json
      this.auth = undefined;
      this.authStored = null;
      return false;
    }
    await this.tightenBackupMode();
    if (main.kind === 'ok') {
      this.setDocument(main.doc, true);
      this.sessionStored = main.encrypted === !!this.opts.encryptionKey ? bodyOf(main.doc) : undefined;
      needsWrite = this.sessionStored === undefined;
      if (needsWrite) this.log.info({ file: this.sessionFile }, 'session.json is not encrypted yet; encrypting it now');
    } else if (main.kind === 'absent') {
      this.setDocument(emptyDocument(this.opts.environment), false);
      this.sessionStored = null;
    } else {
      // main is damaged: the last-known-good copy, or nothing.
      const backup = await this.readSessionFile(this.backupFile, true);
      if (backup.kind === 'ok') {
        needsWrite = await this.restoreFromBackup(backup.doc, main);
      } else {
        await this.moveAsideLogged(this.sessionFile, main.reason, main.detail);
        this.log.warn({ file: this.sessionFile }, LOG_MESSAGES.noUsableSession);
        this.setDocument(emptyDocument(this.opts.environment), false);
        this.sessionStored = null; // main was moved aside
      }
    }
    await this.loadAuthState();
    return needsWrite;
  }

  /**
   * session.json is damaged and the good copy is fine. The damaged file is kept as
   * session.json.corrupt-<time> (a hard link, so session.json itself never goes missing) and session.json
   * is replaced atomically by the good copy at once: a kill -9 at any point leaves either the damaged file
   * (the next start does this again) or the restored one — never "session.json missing next to a good
   * copy", which reads as a deleted session (logged out). Returns whether a write is still due.
   */
  private async restoreFromBackup(doc: SessionDocument, damaged: { reason: string; detail: string }): Promise<boolean> {
    let stillInPlace: boolean;
    try {
      const kept = await setAside(this.sessionFile, 'corrupt');
      stillInPlace = kept.original === 'kept';
      this.log.error({ file: this.sessionFile, reason: damaged.reason, movedTo: kept.path }, LOG_MESSAGES.movedAside(damaged.detail, path.basename(kept.path)));
    } catch (err) {
      // Cannot keep a copy (the directory refuses changes): the good copy is served from memory and written
      // over the damaged file once the directory accepts writes again.
      this.log.error({ file: this.sessionFile, reason: damaged.reason, code: errnoCode(err) }, `${damaged.detail}; could not move it aside`);
      stillInPlace = true;
    }
    this.log.warn({ file: this.sessionFile }, LOG_MESSAGES.sessionFromBackup);
    this.setDocument(doc, true);
    this.sessionStored = stillInPlace ? undefined : null;
    const body = bodyOf(doc);
    try {
      await this.writeSession(body);
      this.sessionStored = body;
      return false;
    } catch (err) {
      this.recordWriteFailure(PersistenceWriteError.from(this.sessionFile, err));
      return true;
    }
  }

  /**
   * Read and decode one session file. A damaged file is moved aside when `moveIfDamaged` (else the caller
   * decides); a file we must not touch throws after blocking writes.
   */
  private async readSessionFile(
    file: string,
    moveIfDamaged = false,
  ): Promise<
    | { kind: 'ok'; doc: SessionDocument; encrypted: boolean }
    | { kind: 'absent' }
    | { kind: 'damaged'; reason: string; detail: string }
    | { kind: 'foreign'; message: string }
  > {
    const damaged = async (reason: string, detail: string) => {
      if (moveIfDamaged) await this.moveAsideLogged(file, reason, detail);
      return { kind: 'damaged' as const, reason, detail };
    };
    const read = await readPrivateFile(file, SESSION_FILE_MAX_BYTES);
    if (read.kind === 'absent') return read;
    if (read.kind === 'ok') {
      for (const warning of read.warnings) this.log.warn({ file }, warning);
      try {
        const decoded = decodeSessionFile(file, read.bytes, {
          environment: this.opts.environment,
          encryptionKey: this.opts.encryptionKey,
        });
        return { kind: 'ok', doc: decoded.doc, encrypted: decoded.encrypted };
      } catch (err) {
        if (!(err instanceof SessionFileError)) throw err;
        if (err.reason === 'environment_mismatch') return { kind: 'foreign', message: err.message };
        if (mustNotTouch(err)) {
          this.sessionWriteBlock = err;
          this.log.error({ file, reason: err.reason }, err.message);
          throw err;
        }
        return damaged(err.reason, err.message);
      }
    }
    return damaged(read.kind === 'refused' ? read.reason : 'unreadable', read.detail);
  }

  private async loadAuthState(): Promise<void> {
    const file = this.authStateFile;
    const read = await readPrivateFile(file, AUTH_STATE_MAX_BYTES);
    this.auth = undefined;
    this.authStored = null;
    if (read.kind === 'absent') return;
    if (read.kind === 'ok') {
      for (const warning of read.warnings) this.log.warn({ file }, warning);
      try {
        this.auth = decodeAuthState(file, read.bytes);
        this.authStored = authContent(this.auth);
        return;
      } catch (err) {
        if (!(err instanceof SessionFileError)) throw err;
        await this.moveAsideLogged(file, err.reason, err.message);
        return;
      }
    }
    await this.moveAsideLogged(file, read.kind === 'refused' ? read.reason : 'unreadable', read.detail);
  }

  /** The good copy is read only when needed, so its mode is checked here (a copied data directory, a umask). */
  private async tightenBackupMode(): Promise<void> {
    const warning = await tightenFileMode(this.backupFile);
    if (warning) this.log.warn({ file: this.backupFile }, warning);
  }

  /** Before this environment writes its first file: the other environment's files go aside, never overwritten. */
  private async moveForeignFilesAside(): Promise<void> {
    for (const file of [this.sessionFile, this.backupFile, this.authStateFile]) {
      let movedTo: string;
      try {
        movedTo = await moveAside(file, 'other-environment');
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue;
        throw PersistenceWriteError.from(file, err);
      }
      this.log.warn({ file, movedTo }, `${path.basename(file)} of another environment moved aside to ${path.basename(movedTo)}`);
    }
    this.foreign = undefined;
  }

  loadProblem(): LoadProblem | undefined {
    return this.foreign ? { ...this.foreign } : undefined;
  }

  private async moveAsideLogged(file: string, reason: string, detail: string): Promise<void> {
    try {
      const movedTo = await moveAside(file, 'corrupt');
      this.log.error({ file, reason, movedTo }, LOG_MESSAGES.movedAside(detail, path.basename(movedTo)));
    } catch (err) {
      // Could not even rename it: leave it, and never overwrite it blindly.
      this.log.error({ file, reason, code: (err as NodeJS.ErrnoException).code }, `${detail}; could not move it aside`);
    }
  }

  // ---------- persistence ----------

  override async close(): Promise<void> {
    this.stopVerifying?.();
    this.stopVerifying = undefined;
    await super.close();
    await this.copyDueBackup();
  }

  /** Bring both files to the in-memory state. Never throws: failures are recorded and retried. */
  protected async flushOnce(): Promise<void> {
    if (this.sessionWriteBlock) {
      // A refused load (wrong or missing encryption key) leaves BOTH files exactly as they are: the
      // auth state read with the wrong key is unknown, not absent, and must not be "synced" away.
      this.recordWriteFailure(
        new PersistenceWriteError(this.sessionFile, 'EBLOCKED', `not overwriting ${SESSION_FILE_NAME}: ${this.sessionWriteBlock.reason}`),
      );
      return;
    }
    let failure: PersistenceWriteError | undefined;
    if (this.foreign && this.isDirty()) {
      try {
        await this.moveForeignFilesAside();
      } catch (err) {
        this.recordWriteFailure(PersistenceWriteError.from(this.sessionFile, err));
        return;
      }
    }
    const sessionBody = this.desiredSession();
    if (sessionBody !== this.sessionStored) {
      try {
        await this.writeSession(sessionBody);
        this.sessionStored = sessionBody;
      } catch (err) {
        failure = PersistenceWriteError.from(this.sessionFile, err);
      }
    }
    const authContent = this.desiredAuth();
    if (authContent !== this.authStored) {
      try {
        if (authContent === null) await removeFileDurable(this.authStateFile);
        else await this.writeHealing(this.authStateFile, authContent);
        this.authStored = authContent;
      } catch (err) {
        failure ??= PersistenceWriteError.from(this.authStateFile, err);
      }
    }
    if (failure) this.recordWriteFailure(failure);
    else if (!this.isDirty()) this.recordSuccess(LOG_MESSAGES.writableAgain);
  }

  private async writeSession(body: string | null): Promise<void> {
    const version = ++this.sessionVersion;
    if (body === null) {
      // Good copy first: a crash in between must not leave a copy that resurrects a cleared session.
      this.backupDue = undefined;
      await this.copyDueBackup();
      await removeFileDurable(this.backupFile);
      await removeFileDurable(this.sessionFile);
      return;
    }
    const bytes = encodeSessionFile(this.doc, { savedAt: new Date(), encryptionKey: this.opts.encryptionKey });
    await this.writeHealing(this.sessionFile, bytes);
    this.sessionWrites++;
    // The good copy follows later, beside the queue: neither the caller nor the next write waits for it.
    this.backupDue = { bytes, version };
    this.scheduleBackup();
  }

  private scheduleBackup(): void {
    if (this.backupTimer || this.backupWriting || !this.backupDue) return;
    this.backupTimer = setTimeout(() => {
      this.backupTimer = undefined;
      this.startBackup();
    }, this.opts.backupDelayMs ?? BACKUP_DELAY_MS);
    this.backupTimer.unref();
  }

  /** Copies the newest content due now; what falls due meanwhile waits for the next turn. */
  private startBackup(): Promise<void> {
    const due = this.backupDue;
    this.backupDue = undefined;
    const writing = (async () => {
      if (due) await this.writeBackup(due.bytes, due.version);
    })().finally(() => {
      this.backupWriting = undefined;
      this.scheduleBackup();
    });
    this.backupWriting = writing;
    return writing;
  }

  /** Waits for the copy under way, then writes what is still due at once (close, load, clear). */
  private async copyDueBackup(): Promise<void> {
    for (;;) {
      clearTimeout(this.backupTimer);
      this.backupTimer = undefined;
      if (!this.backupWriting && !this.backupDue) return;
      await (this.backupWriting ?? this.startBackup());
    }
  }

  private async writeBackup(bytes: Buffer, version: number): Promise<void> {
    // Only the newest content: never a version that was since replaced or cleared (a clear bumps the
    // version and waits for this write before removing the copy; a load waits for it too).
    if (version !== this.sessionVersion) return;
    try {
      await writeFileAtomic(this.backupFile, bytes);
    } catch (err) {
      const error = PersistenceWriteError.from(this.backupFile, err);
      this.log.warn({ file: this.backupFile, code: error.code }, 'writing the last-known-good copy failed');
    }
  }

  private recordWriteFailure(error: PersistenceWriteError): void {
    this.recordFailure(error, LOG_MESSAGES.writeFailed(path.basename(error.file), error.code));
  }
}

interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

/**
 * lstat, synchronously: every account's files are checked every few seconds, and the synchronous call
 * costs ~1.5 µs of CPU where the promise one costs ~25 µs (thread pool and promise); an lstat of a local
 * file's metadata does not block the event loop noticeably. undefined when it cannot be read.
 */
function lstatQuietly(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}

function identityOf(stat: Stats): FileIdentity {
  return { dev: stat.dev, ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs };
}

function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}


/** Files whose problem is our configuration, not their content: never moved, never overwritten. */
function mustNotTouch(err: SessionFileError): boolean {
  return err.reason === 'decrypt_failed' || err.reason === 'encryption_key_missing';
}
