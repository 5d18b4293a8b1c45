/**
 * Crash-safe file writes for a data directory (the service's and the sandbox DC's): after a crash
 * (kill -9, power loss) a file is either its old or its new content, never a mix or a truncation.
 * Dependency-free: nothing here imports from the rest of src/.
 *
 * Choice: our own ~80 lines rather than the npm package write-file-atomic (7.0.1, read from its registry
 * tarball). That package fsyncs the temp file and renames it, but never fsyncs the directory, so after a
 * power loss the rename itself may be lost (the old file comes back, or on some filesystems an empty
 * one); it also resolves symlinks with realpath and writes to their target, which we refuse to do for a
 * file holding auth keys. Here: temp file in the same directory (unique name, O_EXCL, 0600), write,
 * fsync, rename over the target, fsync the directory.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, fchmodSync, fsync, fsyncSync, openSync, promises as fsp, renameSync, unlinkSync, writeFile, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { PersistenceWriteError, errnoCode } from './fs-errors.js';
import { PRIVATE_FILE_MODE, UntrustedPathError, assertDirTrusted, octal, openNoFollowSync } from './private-files.js';

export const PRIVATE_DIR_MODE = 0o700;

/**
 * Create `dir` (and parents) as 0700. An existing directory must be this user's and writable by no one
 * else (UntrustedPathError otherwise, the directory untouched); one that group/others can merely read is
 * tightened to 0700 with a warning. Returns warnings to log (the function itself does not log).
 */
export async function ensurePrivateDir(dir: string): Promise<{ created: boolean; warnings: string[] }> {
  const warnings: string[] = [];
  let stat;
  try {
    stat = await fsp.stat(dir);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw PersistenceWriteError.from(dir, err);
  }
  if (!stat) {
    try {
      await fsp.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
      await fsp.chmod(dir, PRIVATE_DIR_MODE); // a umask can only remove bits; make the mode exact anyway
    } catch (err) {
      throw PersistenceWriteError.from(dir, err);
    }
    return { created: true, warnings };
  }
  if (!stat.isDirectory()) {
    throw new PersistenceWriteError(dir, 'ENOTDIR', `data directory ${dir} exists and is not a directory`);
  }
  assertDirTrusted(dir, stat);
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    try {
      await fsp.chmod(dir, PRIVATE_DIR_MODE);
      warnings.push(`data directory ${dir} had mode ${octal(mode)}; tightened to 0700`);
    } catch (err) {
      warnings.push(`data directory ${dir} has mode ${octal(mode)} and could not be tightened (${errnoCode(err)})`);
    }
  }
  return { created: false, warnings };
}

/**
 * Data up to this size is written synchronously: into the page cache it takes microseconds. Bigger data
 * (the sandbox DC's state, a long Idempotency-Key list) is written on the thread pool, off the event loop.
 */
const SYNC_WRITE_MAX_BYTES = 64 * 1024;

/**
 * Atomically replace `file` with `data` (mode 0600 unless given). Throws PersistenceWriteError; the old file stays.
 *
 * The quick steps — open, chmod, a small write, close, rename — are made synchronously: each costs a few
 * microseconds, less than its own trip through the thread pool; only the two fsyncs, which wait for the
 * disk, leave the event loop. (All asynchronous, the same steps took ~1.6× as long: a session write
 * waited for seven thread-pool round trips besides the disk.)
 */
export async function writeFileAtomic(
  file: string,
  data: Uint8Array | string,
  opts: { mode?: number } = {},
): Promise<void> {
  const mode = opts.mode ?? PRIVATE_FILE_MODE;
  const tmp = tempPathFor(file);
  let fd: number | undefined;
  try {
    fd = openTempSync(tmp, mode);
    if (byteLength(data) <= SYNC_WRITE_MAX_BYTES) writeFileSync(fd, data);
    else await writeFileOnPool(fd, data);
    await fsyncOnPool(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (err) {
    abandonTempSync(tmp, fd);
    throw PersistenceWriteError.from(file, err);
  }
  try {
    await fsyncDir(path.dirname(file));
  } catch (err) {
    // The rename happened but may not be durable yet; report it so the caller retries the (idempotent) write.
    throw PersistenceWriteError.from(file, err);
  }
}

function byteLength(data: Uint8Array | string): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
}

const writeFileOnPool = promisify(writeFile) as (fd: number, data: Uint8Array | string) => Promise<void>;

/** fsync on the thread pool: the step that waits for the disk. */
function fsyncOnPool(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

/** writeFileAtomic for callers that must finish before returning (e.g. a final save on shutdown). Same guarantees and errors. */
export function writeFileAtomicSync(file: string, data: Uint8Array | string, opts: { mode?: number } = {}): void {
  const mode = opts.mode ?? PRIVATE_FILE_MODE;
  const tmp = tempPathFor(file);
  let fd: number | undefined;
  try {
    fd = openTempSync(tmp, mode);
    writeFileSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (err) {
    abandonTempSync(tmp, fd);
    throw PersistenceWriteError.from(file, err);
  }
  try {
    fsyncDirSync(path.dirname(file));
  } catch (err) {
    throw PersistenceWriteError.from(file, err);
  }
}

/**
 * Append one line (a newline is added if missing) to `file` (created 0600 unless given) and fsync it
 * before returning: a journal entry is durable once this returns. A crash mid-append can leave a torn
 * last line, which the reader must skip.
 */
export function appendLineDurableSync(file: string, line: string, opts: { mode?: number } = {}): void {
  const created = !existsSync(file);
  let fd: number | undefined;
  try {
    // Never through a symlink: a planted link would make us append to its target.
    fd = openNoFollowSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, opts.mode ?? PRIVATE_FILE_MODE).fd;
    writeFileSync(fd, line.endsWith('\n') ? line : line + '\n');
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (created) fsyncDirSync(path.dirname(file)); // the new directory entry must survive too
  } catch (err) {
    if (fd !== undefined) closeQuietlySync(fd);
    if (err instanceof UntrustedPathError) throw err;
    throw PersistenceWriteError.from(file, err);
  }
}

function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** A new temp file (never an existing one: O_EXCL) with exactly `mode`, whatever the umask. */
function openTempSync(tmp: string, mode: number): number {
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    fchmodSync(fd, mode);
  } catch (err) {
    closeQuietlySync(fd);
    throw err;
  }
  return fd;
}

/** After a failed write: the temp file closed (if open) and removed, so the target's directory holds no debris. */
function abandonTempSync(tmp: string, fd: number | undefined): void {
  if (fd !== undefined) closeQuietlySync(fd);
  try {
    unlinkSync(tmp);
  } catch {
    // never created, or already renamed
  }
}

function closeQuietlySync(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already failing; the first error is the one to report
  }
}

/** Remove temp files of writeFileAtomic(file) left by a process killed mid-write. Call only while no write to `file` runs. */
export async function removeStaleTempFiles(file: string): Promise<number> {
  return (await removeStaleTempFilesOf([file])).get(file) ?? 0;
}

/**
 * removeStaleTempFiles for several files, reading each directory once (a start restoring a thousand
 * accounts reads a thousand directories, not three thousand). Returns how many were removed per file.
 */
export async function removeStaleTempFilesOf(files: string[]): Promise<Map<string, number>> {
  const removed = new Map<string, number>();
  const byDir = new Map<string, string[]>();
  for (const file of files) {
    removed.set(file, 0);
    const dir = path.dirname(file);
    byDir.set(dir, [...(byDir.get(dir) ?? []), file]);
  }
  for (const [dir, inDir] of byDir) {
    for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
      const owner = inDir.find((file) => name.startsWith(`.${path.basename(file)}.tmp-`));
      if (!owner) continue;
      await fsp.unlink(path.join(dir, name)).then(() => removed.set(owner, removed.get(owner)! + 1), () => undefined);
    }
  }
  return removed;
}

/** Remove `file` (absent is fine) and make the removal durable. */
export async function removeFileDurable(file: string): Promise<void> {
  try {
    await fsp.unlink(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw PersistenceWriteError.from(file, err);
  }
  try {
    await fsyncDir(path.dirname(file));
  } catch (err) {
    throw PersistenceWriteError.from(file, err);
  }
}

/**
 * Tighten a group/world-readable regular file to 0600, through a descriptor opened without following a
 * symlink (a symlink, a FIFO or an absent file is left alone). Returns a warning to log when the mode was
 * (or could not be) fixed.
 */
export async function tightenFileMode(file: string): Promise<string | undefined> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = await handle.stat();
    const mode = stat.mode & 0o777;
    if (!stat.isFile() || (mode & 0o077) === 0) return undefined;
    try {
      await handle.chmod(PRIVATE_FILE_MODE);
      return `${file} had mode ${octal(mode)}; fixed to 0600`;
    } catch (err) {
      return `${file} has mode ${octal(mode)} and could not be fixed (${errnoCode(err)})`;
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Keep `file` as `<file>.<label>-<time>` while leaving it in place (a hard link), so the caller can then
 * replace `file` atomically and `file` is never missing in between. Directories (and filesystems without
 * hard links) are renamed instead: `original` says which happened.
 */
export async function setAside(file: string, label: string, now = new Date()): Promise<{ path: string; original: 'kept' | 'moved' }> {
  const stat = await fsp.lstat(file);
  if (!stat.isDirectory()) {
    const target = await freeAsideName(file, label, now);
    try {
      await fsp.link(file, target);
      await fsyncDir(path.dirname(file)).catch(() => undefined);
      return { path: target, original: 'kept' };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw err;
      // EPERM, EXDEV, ENOTSUP, EMLINK…: fall back to a rename.
    }
  }
  return { path: await moveAside(file, label, now), original: 'moved' };
}

async function freeAsideName(file: string, label: string, now: Date): Promise<string> {
  const target = `${file}.${label}-${now.toISOString().replace(/:/g, '-')}`;
  let candidate = target;
  for (let n = 1; await exists(candidate); n++) candidate = `${target}.${n}`;
  return candidate;
}

/** Rename `file` to `<file>.<label>-<time>` (the link itself if it is a symlink). Returns the new path. */
export async function moveAside(file: string, label: string, now = new Date()): Promise<string> {
  // ISO time without ':' so the name is portable to filesystems that refuse colons.
  const candidate = await freeAsideName(file, label, now);
  await fsp.rename(file, candidate);
  await fsyncDir(path.dirname(file)).catch(() => undefined);
  return candidate;
}

/** Makes the directory's entries (a rename, a new or removed file) durable; only the fsync leaves the event loop. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fsyncOnPool(fd);
  } finally {
    closeSync(fd);
  }
}

export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.lstat(file);
    return true;
  } catch {
    return false;
  }
}
