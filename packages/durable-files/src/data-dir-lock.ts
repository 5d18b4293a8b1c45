/**
 * One process per data directory (two processes on one auth key is how accounts get AUTH_KEY_DUPLICATED;
 * two sandbox DCs on one directory overwrite each other's state). Used by the service (`service.lock`)
 * and the sandbox DC (`sandbox-dc.lock`). Dependency-free: nothing here imports from the rest of src/.
 *
 * Why not proper-lockfile (installed, read): it decides staleness only by the lock's mtime, refreshed
 * by a timer. A lock left by `kill -9` is therefore taken over only after the stale period (≥ 2 s,
 * 10 s by default), a live holder whose event loop stalls longer than that loses its lock, and it
 * removes its lock directory with rmdir, so the holder's identity cannot be stored inside it.
 *
 * Here: <dataDir>/<fileName> (default service.lock) is a small JSON file naming the holder (pid, hostname, start time of the
 * process from /proc, boot id), created complete and atomically with link(2) (which fails if the lock
 * exists). A second process reads it and asks the kernel whether that exact process still lives:
 * - same host, same boot, pid alive with the same start time → held: DataDirLockedError naming the pid;
 * - pid gone, pid reused by another process (start time differs), or a previous boot → stale, taken over
 *   at once;
 * - another host (a shared volume): a heartbeat refreshes the file's mtime; stale after FOREIGN_STALE_MS.
 * A take-over is itself guarded (mkdir of <fileName>.takeover) so two starters cannot both win.
 * Within one process a second acquire of the same directory is refused too (the holder's nonce is
 * remembered), so two in-process instances cannot share a directory.
 *
 * Holding is re-checked: every `checkIntervalMs` (2 s by default) the holder verifies that its lock file
 * is still there and still its own — the same inode, with exactly the content it wrote. A tmp cleaner
 * deleting it, `rm -rf` of the directory, or another process's lock put in its place all mean that a
 * second process may now believe it owns the directory; the holder is told at once (`onLost`) and must
 * stop using the directory. `assertHeld()` makes the same check on demand, to fence a write. The lock
 * file is never read through a symlink.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, promises as fsp, readFileSync, readSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensurePrivateDir, fsyncDir } from './atomic-file.js';
import { errnoCode } from './fs-errors.js';
import { openNoFollowSync, UntrustedPathError } from './private-files.js';

/** Default lock file name (the service's). */
export const LOCK_FILE_NAME = 'service.lock';
const DEFAULT_OWNER = 'telegram-service';
const HEARTBEAT_MS = 15_000;
/** How often a holder verifies that its lock file is still its own, unless told otherwise. */
export const DEFAULT_LOCK_CHECK_INTERVAL_MS = 2_000;
/** Lock files are a few hundred bytes; anything longer is not one of ours. */
const MAX_LOCK_FILE_BYTES = 64 * 1024;
const FOREIGN_STALE_MS = 90_000;
/** A lock file still being created (or a crashed take-over) is given this long before it counts as stale. */
const YOUNG_MS = 10_000;

/** Another process (or another instance in this one) holds the data directory. The message names it. */
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

/**
 * The holder's lock file is gone or is not its own any more: another process may hold the directory now.
 * `reason`: removed (the file or the whole directory was deleted), replaced (another file — another
 * holder's lock, a copy, a symlink — is at its path), changed (its content was overwritten).
 */
export class DataDirLockLostError extends Error {
  override readonly name = 'DataDirLockLostError';
  constructor(
    readonly file: string,
    readonly reason: 'removed' | 'replaced' | 'changed',
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

export interface DataDirLockOptions {
  /** Name of the lock file inside the data directory (default `service.lock`). */
  fileName?: string;
  /** Who may hold the directory, as said in the error: "only one <owner> may use a data directory" (default `telegram-service`). */
  owner?: string;
  /** How often the holder verifies that its lock file is still its own (default 2 s; 0 = never). */
  checkIntervalMs?: number;
  /**
   * Called once, as soon as a check finds the lock lost. The holder must stop using the directory at once
   * (another process may own it now) — and must not release the lock, which is not its own any more.
   */
  onLost?: (err: DataDirLockLostError) => void;
}

interface LockFileContent extends LockHolderInfo {
  nonce: string;
}

export interface DataDirLock {
  /** Absolute path of the lock file. */
  readonly file: string;
  /** Warnings about the data directory (e.g. its mode was tightened) for the caller to log. */
  readonly warnings: string[];
  /** Why the lock was found lost (by a periodic check or assertHeld), or undefined while it is held. */
  readonly lost: DataDirLockLostError | undefined;
  /**
   * Verifies now, synchronously, that the lock file is still this holder's; throws DataDirLockLostError
   * (and calls onLost, once) if not. For callers that want to fence a write.
   */
  assertHeld(): void;
  release(): Promise<void>;
}

/** Nonces of the locks this process holds (a second acquire in the same process is refused too). */
const heldHere = new Set<string>();

/** Create `dataDir` (0700) if missing and take its lock, or throw DataDirLockedError naming the holder. */
export async function acquireDataDirLock(dataDir: string, opts: DataDirLockOptions = {}): Promise<DataDirLock> {
  const fileName = opts.fileName ?? LOCK_FILE_NAME;
  const owner = opts.owner ?? DEFAULT_OWNER;
  if (!fileName || fileName !== path.basename(fileName) || fileName === '.' || fileName === '..') {
    throw new TypeError(`lock file name must be a plain file name, got ${JSON.stringify(fileName)}`);
  }
  const { warnings } = await ensurePrivateDir(dataDir);
  const file = path.join(path.resolve(dataDir), fileName);
  const me: LockFileContent = {
    pid: process.pid,
    hostname: os.hostname(),
    acquiredAt: new Date().toISOString(),
    procStartTime: procStartTime(process.pid),
    bootId: bootId(),
    nonce: randomBytes(12).toString('hex'),
  };
  const tmp = `${file}.${process.pid}.${me.nonce}`;
  const content = JSON.stringify(me) + '\n';
  /** Said in the log when a stale lock (a crashed holder's) was taken over. */
  let tookOver: string | undefined;
  await fsp.writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    const { dev, ino } = await fsp.lstat(tmp); // the lock file is a hard link of it: the same inode
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await fsp.link(tmp, file);
        await fsyncDir(path.dirname(file)).catch(() => undefined);
        heldHere.add(me.nonce);
        await removeLeftoverTempFiles(file);
        if (tookOver) warnings.push(tookOver);
        return startHolding({ file, nonce: me.nonce, dev, ino, content }, warnings, opts);
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
      const holder = await readHolder(file);
      if (holder === 'gone') continue;
      const verdict = judge(holder);
      if (verdict === 'alive') throw lockedError(dataDir, holder.content, owner);
      await takeOver(dataDir, file, holder);
      tookOver = holder.content
        ? `took over the data directory lock of process ${holder.content.pid} on ${holder.content.hostname} (since ${holder.content.acquiredAt}), which is no longer running`
        : 'took over a stale, unreadable data directory lock';
    }
    throw new DataDirLockedError(dataDir, undefined, `data directory ${dataDir} is locked by a process that keeps changing; retry`);
  } finally {
    await fsp.unlink(tmp).catch(() => undefined);
  }
}

/**
 * Who holds `dataDir` right now, without taking or changing anything (for tools that must not start a
 * second process on it): the live holder, or undefined when the lock is free or stale.
 */
export async function dataDirLockHolder(dataDir: string, opts: Pick<DataDirLockOptions, 'fileName'> = {}): Promise<LockHolderInfo | undefined> {
  const holder = await readHolder(path.join(path.resolve(dataDir), opts.fileName ?? LOCK_FILE_NAME)).catch(() => 'gone' as const);
  if (holder === 'gone' || judge(holder) !== 'alive' || !holder.content) return undefined;
  const { nonce: _nonce, ...info } = holder.content;
  return info;
}

/** What a holder knows its lock file to be. */
interface HeldLock {
  file: string;
  nonce: string;
  dev: number;
  ino: number;
  content: string;
}

function startHolding(held: HeldLock, warnings: string[], opts: DataDirLockOptions): DataDirLock {
  const { file } = held;
  // The heartbeat only matters to processes on other hosts sharing the directory.
  const heartbeat = setInterval(() => {
    const now = new Date();
    fsp.lutimes(file, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  let released = false;
  let lost: DataDirLockLostError | undefined;
  const check = (): DataDirLockLostError | undefined => {
    if (lost || released) return lost;
    lost = findLoss(held);
    if (lost) {
      clearInterval(checker);
      clearInterval(heartbeat);
      heldHere.delete(held.nonce);
      opts.onLost?.(lost);
    }
    return lost;
  };
  const interval = opts.checkIntervalMs ?? DEFAULT_LOCK_CHECK_INTERVAL_MS;
  const checker = interval > 0 ? setInterval(check, interval) : undefined;
  checker?.unref();
  return {
    file,
    warnings,
    get lost() {
      return lost;
    },
    assertHeld() {
      const err = check();
      if (err) throw err;
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      clearInterval(checker);
      heldHere.delete(held.nonce);
      const current = await readHolder(file);
      // Remove only our own lock (never one a take-over handed to someone else).
      if (current !== 'gone' && current.content?.nonce === held.nonce) {
        await fsp.unlink(file).catch(() => undefined);
        await fsyncDir(path.dirname(file)).catch(() => undefined);
      }
    },
  };
}

/**
 * Whether the lock file is still exactly the holder's (same inode, same content), checked on one
 * descriptor opened without following a symlink. Only evidence counts as a loss: an error that says
 * nothing about the file (EMFILE during a connection flood, EIO, EACCES) is not one, the next check
 * tries again.
 */
function findLoss(held: HeldLock): DataDirLockLostError | undefined {
  const { file } = held;
  let fd: number;
  try {
    fd = openNoFollowSync(file, constants.O_RDONLY).fd;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return new DataDirLockLostError(file, 'removed', `lock file ${file} was removed`);
    }
    if (err instanceof UntrustedPathError) {
      return new DataDirLockLostError(file, 'replaced', `lock file ${file} was replaced by ${err.reason === 'symlink' ? 'a symlink' : 'something that is not a regular file'}`);
    }
    return undefined;
  }
  try {
    const { dev, ino } = fstatSync(fd);
    const content = readAtMost(fd, MAX_LOCK_FILE_BYTES);
    if (dev !== held.dev || ino !== held.ino) {
      const other = parseLockFile(content);
      const whose = other && other.nonce !== held.nonce ? ` (now naming process ${other.pid} on ${other.hostname})` : '';
      return new DataDirLockLostError(file, 'replaced', `lock file ${file} was replaced by another file${whose}`);
    }
    if (content !== held.content) return new DataDirLockLostError(file, 'changed', `lock file ${file} was overwritten`);
    return undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Up to `max` bytes of `fd` from its current position, as UTF-8. */
function readAtMost(fd: number, max: number): string {
  const buf = Buffer.alloc(max);
  let length = 0;
  for (;;) {
    const n = readSync(fd, buf, length, max - length, null);
    if (n === 0 || length + n >= max) return buf.toString('utf8', 0, length + n);
    length += n;
  }
}

interface HolderSnapshot {
  /** Undefined when the file could not be parsed (being written, or damaged). */
  content: LockFileContent | undefined;
  raw: string;
  mtimeMs: number;
}

/** The lock file as a starter sees it, never read through a symlink (a link, FIFO or other non-file counts as unreadable content). */
async function readHolder(file: string): Promise<HolderSnapshot | 'gone'> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 'gone';
    if (errnoCode(err) !== 'ELOOP') throw err;
    // A symlink: judged by the link's own age; `raw` names its target so a take-over removes exactly it.
    try {
      const [stat, target] = await Promise.all([fsp.lstat(file), fsp.readlink(file)]);
      return { content: undefined, raw: `symlink to ${target}`, mtimeMs: stat.mtimeMs };
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return 'gone';
      throw e;
    }
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { content: undefined, raw: `not a regular file (inode ${stat.ino})`, mtimeMs: stat.mtimeMs };
    const raw = readAtMost(handle.fd, MAX_LOCK_FILE_BYTES);
    return { content: parseLockFile(raw), raw, mtimeMs: stat.mtimeMs };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function parseLockFile(raw: string): LockFileContent | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockFileContent>;
    if (typeof value.pid !== 'number' || !Number.isInteger(value.pid) || value.pid <= 0) return undefined;
    if (typeof value.hostname !== 'string' || typeof value.nonce !== 'string') return undefined;
    return value as LockFileContent;
  } catch {
    return undefined;
  }
}

function judge(holder: HolderSnapshot): 'alive' | 'stale' {
  const age = Date.now() - holder.mtimeMs;
  const h = holder.content;
  if (!h) return age < YOUNG_MS ? 'alive' : 'stale';
  if (h.hostname !== os.hostname()) return age < FOREIGN_STALE_MS ? 'alive' : 'stale';
  if (h.bootId && bootId() && h.bootId !== bootId()) return 'stale';
  if (h.pid === process.pid) return heldHere.has(h.nonce) ? 'alive' : 'stale';
  if (!pidExists(h.pid)) return 'stale';
  const start = procStartTime(h.pid);
  if (h.procStartTime && start && start !== h.procStartTime) return 'stale'; // the pid now belongs to another process
  return 'alive';
}

async function takeOver(dataDir: string, file: string, seen: HolderSnapshot): Promise<void> {
  const guard = `${file}.takeover`;
  try {
    await fsp.mkdir(guard, { mode: 0o700 });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    // Another starter's take-over lasts milliseconds: wait for it to end (the caller then finds the lock
    // that starter made, or none). A guard whose starter died — kill -9 during start-up, even between the
    // mkdir and its owner file — is dead soon enough (GUARD_UNOWNED_MS at most): cleared, and the caller retries.
    for (const giveUpAt = Date.now() + GUARD_WAIT_MS; ; await sleep(GUARD_POLL_MS)) {
      if (await guardIsDead(guard)) {
        await fsp.rm(guard, { recursive: true, force: true });
        return;
      }
      if (Date.now() >= giveUpAt) break;
    }
    throw new DataDirLockedError(dataDir, seen.content, `data directory ${dataDir} is being taken over by another starting process`);
  }
  try {
    // Who holds the guard, so a starter killed right here does not block the next start for YOUNG_MS.
    await fsp.writeFile(path.join(guard, GUARD_OWNER_FILE), JSON.stringify({ pid: process.pid, procStartTime: procStartTime(process.pid), bootId: bootId() }), { mode: 0o600, flag: 'wx' });
    const now = await readHolder(file);
    // Remove exactly the stale lock we judged, not one a faster starter has put there since.
    if (now !== 'gone' && now.raw === seen.raw) await fsp.unlink(file);
  } finally {
    await fsp.rm(guard, { recursive: true, force: true }).catch(() => undefined);
  }
}

const GUARD_OWNER_FILE = 'owner';
/** A guard without its owner file yet is given this long (the owner is written right after the mkdir). */
const GUARD_UNOWNED_MS = 1_000;
/** How long a starter waits for another starter's take-over guard to end or die before giving up. */
const GUARD_WAIT_MS = GUARD_UNOWNED_MS + 1_000;
const GUARD_POLL_MS = 50;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether a take-over guard was left by a process that no longer runs (or is too old to be live). */
async function guardIsDead(guard: string): Promise<boolean> {
  const stat = await fsp.stat(guard).catch(() => undefined);
  if (!stat) return true; // gone meanwhile
  if (Date.now() - stat.mtimeMs > YOUNG_MS) return true;
  let owner: { pid?: unknown; procStartTime?: unknown; bootId?: unknown };
  try {
    owner = JSON.parse(await readFileNoFollow(path.join(guard, GUARD_OWNER_FILE))) as typeof owner;
  } catch {
    return Date.now() - stat.mtimeMs > GUARD_UNOWNED_MS;
  }
  if (typeof owner.pid !== 'number' || !Number.isInteger(owner.pid) || owner.pid <= 0) return true;
  if (owner.bootId && bootId() && owner.bootId !== bootId()) return true;
  if (!pidExists(owner.pid)) return true;
  const start = procStartTime(owner.pid);
  return Boolean(owner.procStartTime && start && start !== owner.procStartTime);
}

async function readFileNoFollow(file: string): Promise<string> {
  const handle = await fsp.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    return readAtMost(handle.fd, MAX_LOCK_FILE_BYTES);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** `<fileName>.<pid>.<nonce>` files of starters killed before they cleaned up. */
async function removeLeftoverTempFiles(file: string): Promise<void> {
  const dir = path.dirname(file);
  const pattern = new RegExp(`^${escapeRegExp(path.basename(file))}\\.(\\d+)\\.[0-9a-f]+$`);
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    const match = pattern.exec(name);
    if (match && Number(match[1]) !== process.pid && !pidExists(Number(match[1]))) {
      await fsp.unlink(path.join(dir, name)).catch(() => undefined);
    }
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function lockedError(dataDir: string, holder: LockFileContent | undefined, owner: string): DataDirLockedError {
  const who = holder
    ? `process ${holder.pid} on ${holder.hostname} (since ${holder.acquiredAt})`
    : 'a process that is starting up';
  return new DataDirLockedError(
    dataDir,
    holder && { pid: holder.pid, hostname: holder.hostname, acquiredAt: holder.acquiredAt, procStartTime: holder.procStartTime, bootId: holder.bootId },
    `data directory ${dataDir} is in use by ${who}; only one ${owner} may use a data directory (stop it, or use another data directory)`,
  );
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM'; // exists, owned by someone else
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined off Linux. */
function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

let cachedBootId: string | undefined | null = null;
function bootId(): string | undefined {
  if (cachedBootId === null) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      cachedBootId = undefined;
    }
  }
  return cachedBootId;
}
