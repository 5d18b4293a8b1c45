/**
 * Files of a private data directory, opened without trusting what is at their path: never through a
 * symlink (O_NOFOLLOW — as root, a planted link could make the service read, append to or re-mode any
 * file on the machine), never a FIFO or device (O_NONBLOCK + fstat: a FIFO would hang the open or the
 * read), and every check made on the opened descriptor, so a swap between check and use cannot fool it.
 * And the directory itself: owned by this user and writable by nobody else, or refused.
 */
import { closeSync, constants, fchmodSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { errnoCode } from './fs-errors.js';

export const PRIVATE_FILE_MODE = 0o600;

/** A path the service refuses to use because someone else may control it. The message says which and why. */
export class UntrustedPathError extends Error {
  override readonly name = 'UntrustedPathError';
  constructor(
    readonly path: string,
    readonly reason: 'symlink' | 'not_regular_file' | 'too_large' | 'not_owned' | 'writable_by_others',
    message: string,
  ) {
    super(message);
  }
}

/** `0644`, `01777`: a mode as `ls` and `chmod` write it (special bits included). */
export function octal(mode: number): string {
  return '0' + (mode & 0o7777).toString(8).padStart(3, '0');
}

/**
 * open(2) of `file` that refuses a symlink in its last component and anything but a regular file.
 * Throws UntrustedPathError for those, the errno error otherwise (ENOENT included).
 */
export function openNoFollowSync(file: string, flags: number, mode = PRIVATE_FILE_MODE): { fd: number; stat: Stats } {
  let fd: number;
  try {
    fd = openSync(file, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK, mode);
  } catch (err) {
    // ELOOP: the last component is a symlink. ENXIO: a FIFO opened for writing with no reader.
    if (errnoCode(err) === 'ELOOP') throw symlinkRefused(file);
    if (errnoCode(err) === 'ENXIO') throw notRegularRefused(file);
    throw err;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw notRegularRefused(file);
    return { fd, stat };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * Opens `file` for appending (created with `mode`), never through a symlink; a group/world-readable
 * file is tightened to `mode` through the descriptor, with a warning to log.
 */
export function openPrivateAppendSync(file: string, mode = PRIVATE_FILE_MODE): { fd: number; warning?: string } {
  const { fd, stat } = openNoFollowSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, mode);
  return { fd, ...tightenOpenFile(fd, file, stat, mode) };
}

/**
 * The content of a private file, or undefined when it does not exist. Never through a symlink, never a
 * FIFO, at most `maxBytes` (UntrustedPathError beyond); a group/world-readable file is tightened to 0600
 * through the descriptor, with a warning to log.
 */
export function readPrivateFileSync(file: string, opts: { maxBytes: number }): { bytes: Buffer; warnings: string[] } | undefined {
  let opened: { fd: number; stat: Stats };
  try {
    opened = openNoFollowSync(file, constants.O_RDONLY);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  const { fd, stat } = opened;
  try {
    const { warning } = tightenOpenFile(fd, file, stat, PRIVATE_FILE_MODE);
    // Read to the end rather than trusting fstat's size: a file growing meanwhile is still capped.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, opts.maxBytes + 1));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > opts.maxBytes) throw new UntrustedPathError(file, 'too_large', `${file} is over ${opts.maxBytes} bytes; refusing to read it`);
      chunks.push(chunk.subarray(0, n));
    }
    return { bytes: Buffer.concat(chunks, total), warnings: warning ? [warning] : [] };
  } finally {
    closeSync(fd);
  }
}

function tightenOpenFile(fd: number, file: string, stat: Stats, mode: number): { warning?: string } {
  const current = stat.mode & 0o777;
  if ((current & ~mode & 0o077) === 0) return {};
  try {
    fchmodSync(fd, mode);
    return { warning: `${file} had mode ${octal(current)}; fixed to ${octal(mode)}` };
  } catch (err) {
    return { warning: `${file} has mode ${octal(current)} and could not be fixed (${errnoCode(err)})` };
  }
}

/**
 * Refuses a directory this process must keep private but cannot: owned by another user (its owner can
 * change anything in it), or writable by group or others (they can plant or swap files in it — an
 * `api_token` that grants access, a link the service would follow). Such a directory is left exactly as
 * it is: tightening a shared directory like /tmp would break everyone else using it.
 */
export function assertDirTrusted(dir: string, stat: Stats, uid: number | undefined = process.getuid?.()): void {
  if (uid !== undefined && stat.uid !== uid) {
    throw new UntrustedPathError(
      dir,
      'not_owned',
      `data directory ${dir} is owned by uid ${stat.uid}, not by this user (uid ${uid}); refusing to use it (chown it to this user, or use another directory)`,
    );
  }
  if ((stat.mode & 0o022) !== 0) {
    const who = (stat.mode & 0o002) !== 0 ? 'others' : 'its group';
    throw new UntrustedPathError(
      dir,
      'writable_by_others',
      `data directory ${dir} is writable by ${who} (mode ${octal(stat.mode)}); refusing to use it: whoever can write there can plant files the service trusts (use a directory only this user can write, e.g. chmod 700, or another directory)`,
    );
  }
}

function symlinkRefused(file: string): UntrustedPathError {
  return new UntrustedPathError(file, 'symlink', `${file} is a symlink; refusing to follow it (replace it with a regular file, or remove it)`);
}

function notRegularRefused(file: string): UntrustedPathError {
  return new UntrustedPathError(file, 'not_regular_file', `${file} is not a regular file; refusing to open it (remove it)`);
}
