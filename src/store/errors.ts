/** Typed errors of the session store. Messages never contain file contents or key material. */

export { PersistenceWriteError, errnoCode } from '@telegram-service/durable-files';

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
