/** Errors of the durable-file utilities. Messages never contain file contents. */

/** A write (or remove) in a data directory failed; the file on disk is untouched. */
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

export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
