/** Typed errors of the session store. Messages never contain file contents or key material. */

/** A write (or remove) in the data directory failed; the file on disk is untouched. */
export class PersistenceWriteError extends Error {
  override readonly name = 'PersistenceWriteError';
  constructor(
    readonly file: string,
    /** errno code: ENOSPC, EROFS, EACCES, EIO, … (UNKNOWN when the cause had none). */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static from(file: string, err: unknown): PersistenceWriteError {
    if (err instanceof PersistenceWriteError) return err;
    const code = errnoCode(err) ?? 'UNKNOWN';
    const reason = err instanceof Error ? err.message : String(err);
    return new PersistenceWriteError(file, code, `writing ${file} failed (${code}): ${reason}`, { cause: err });
  }
}

export type SessionFileProblem =
  /** Not JSON, truncated, empty, or not the shape of a session document. */
  | 'corrupt'
  /** A `version` this build does not know. */
  | 'unsupported_version'
  /** The file is bigger than any session document can be. */
  | 'too_large'
  /** A symlink or not a regular file: refused, never read through. */
  | 'not_regular_file'
  /** Keys of another Telegram environment (a key never crosses environments). */
  | 'environment_mismatch'
  /** Encrypted, and the configured key does not open it (or the envelope is damaged). */
  | 'decrypt_failed'
  /** Encrypted, and no SESSION_ENCRYPTION_KEY is configured. */
  | 'encryption_key_missing'
  /** Could not be read at all (EACCES, EIO, …). */
  | 'unreadable';

/** session.json (or auth_state.json) could not be turned into a document. */
export class SessionFileError extends Error {
  override readonly name = 'SessionFileError';
  constructor(
    readonly file: string,
    readonly reason: SessionFileProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Another process holds the data directory. The message names it. */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolderInfo | undefined,
    message: string,
  ) {
    super(message);
  }
}

export interface LockHolderInfo {
  pid: number;
  hostname: string;
  /** ISO time the holder took the lock. */
  acquiredAt: string;
  /** /proc/<pid>/stat start time (clock ticks since boot) — tells a live holder from a reused pid. */
  procStartTime?: string;
  /** /proc/sys/kernel/random/boot_id — a pid from before a reboot is never alive. */
  bootId?: string;
}

export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
