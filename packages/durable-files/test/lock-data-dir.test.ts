/** One process per DATA_DIR: real processes, real files. */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireDataDirLock, DataDirLockedError, DataDirLockLostError } from '../src/data-dir-lock.js';

const LOCK_MODULE = fileURLToPath(new URL('../src/data-dir-lock.ts', import.meta.url));

let root: string;
let dataDir: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'lock-'));
  dataDir = path.join(root, 'data');
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await fsp.rm(root, { recursive: true, force: true });
});

/** A child process that takes the lock, prints "locked", and waits. */
async function childHoldingLock(): Promise<ChildProcess> {
  const script = `
    const { acquireDataDirLock } = await import(${JSON.stringify(LOCK_MODULE)});
    const lock = await acquireDataDirLock(${JSON.stringify(dataDir)});
    process.stdout.write('locked\\n');
    process.on('SIGTERM', async () => { await lock.release(); process.exit(0); });
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before locking`)));
  });
  return child;
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => child.on('exit', () => r()));

describe('data directory lock', () => {
  it('creates the data directory 0700 and a lock file naming this process', async () => {
    const lock = await acquireDataDirLock(dataDir);
    expect((await fsp.stat(dataDir)).mode & 0o777).toBe(0o700);
    const content = JSON.parse(await fsp.readFile(lock.file, 'utf8')) as { pid: number; hostname: string };
    expect(content.pid).toBe(process.pid);
    expect(content.hostname).toBe(os.hostname());
    await lock.release();
    await expect(fsp.stat(lock.file)).rejects.toMatchObject({ code: 'ENOENT' });
    // Free again after release.
    await (await acquireDataDirLock(dataDir)).release();
  });

  it('a second acquire in the same process is refused', async () => {
    const lock = await acquireDataDirLock(dataDir);
    const err = await acquireDataDirLock(dataDir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect((err as Error).message).toContain(`process ${process.pid}`);
    await lock.release();
  });

  it('a live holder in another process is named (pid) and the lock is refused at once', async () => {
    const child = await childHoldingLock();
    const err = await acquireDataDirLock(dataDir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect(err).toMatchObject({ holder: { pid: child.pid } });
    expect((err as Error).message).toMatch(new RegExp(`in use by process ${child.pid} on `));
    // The holder releases on SIGTERM; then the lock is free.
    child.kill('SIGTERM');
    await exited(child);
    await (await acquireDataDirLock(dataDir)).release();
  });

  it('the lock of a process killed with SIGKILL is taken over at once', async () => {
    const child = await childHoldingLock();
    child.kill('SIGKILL');
    await exited(child);
    const lockFile = path.join(dataDir, 'service.lock');
    expect(JSON.parse(await fsp.readFile(lockFile, 'utf8')).pid).toBe(child.pid); // left behind
    const lock = await acquireDataDirLock(dataDir);
    expect(JSON.parse(await fsp.readFile(lockFile, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('a lock whose pid now belongs to another process (different start time) is stale', async () => {
    await fsp.mkdir(dataDir, { mode: 0o700 });
    const lockFile = path.join(dataDir, 'service.lock');
    // pid 1 is alive, but it did not start at tick 1.
    await fsp.writeFile(lockFile, JSON.stringify({ pid: 1, hostname: os.hostname(), acquiredAt: 'x', procStartTime: '1', nonce: 'n' }));
    const lock = await acquireDataDirLock(dataDir);
    expect(JSON.parse(await fsp.readFile(lockFile, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('a lock of a pid that does not exist is stale; an unparsable old lock file too', async () => {
    await fsp.mkdir(dataDir, { mode: 0o700 });
    const lockFile = path.join(dataDir, 'service.lock');
    await fsp.writeFile(lockFile, JSON.stringify({ pid: 2 ** 22 + 7, hostname: os.hostname(), acquiredAt: 'x', nonce: 'n' }));
    const first = await acquireDataDirLock(dataDir);
    expect(JSON.parse(await fsp.readFile(lockFile, 'utf8')).pid).toBe(process.pid);
    await first.release();

    await fsp.writeFile(lockFile, 'garbage');
    const old = new Date(Date.now() - 60_000);
    await fsp.utimes(lockFile, old, old);
    const second = await acquireDataDirLock(dataDir);
    expect(JSON.parse(await fsp.readFile(lockFile, 'utf8')).pid).toBe(process.pid);
    await second.release();
  });

  it('a take-over guard left by a starter killed mid take-over does not block the next start', async () => {
    await fsp.mkdir(dataDir, { mode: 0o700 });
    const lockFile = path.join(dataDir, 'service.lock');
    const deadPid = 2 ** 22 + 7;
    await fsp.writeFile(lockFile, JSON.stringify({ pid: deadPid, hostname: os.hostname(), acquiredAt: 'x', nonce: 'n' }));
    // A fresh guard (well inside the 10 s young window) whose owner no longer runs.
    await fsp.mkdir(`${lockFile}.takeover`, { mode: 0o700 });
    await fsp.writeFile(path.join(`${lockFile}.takeover`, 'owner'), JSON.stringify({ pid: deadPid }));
    const lock = await acquireDataDirLock(dataDir);
    await expect(fsp.stat(`${lockFile}.takeover`)).rejects.toThrow();
    await lock.release();
  });

  it('a guard without its owner file yet (a starter killed between the mkdir and the owner) is waited out, then the stale lock taken over', async () => {
    await fsp.mkdir(dataDir, { mode: 0o700 });
    const lockFile = path.join(dataDir, 'service.lock');
    await fsp.writeFile(lockFile, JSON.stringify({ pid: 2 ** 22 + 7, hostname: os.hostname(), acquiredAt: 'x', nonce: 'n' }));
    await fsp.mkdir(`${lockFile}.takeover`, { mode: 0o700 }); // just made: young, no owner
    const startedAt = Date.now();
    const lock = await acquireDataDirLock(dataDir);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(900); // waited for the unowned guard to be judged dead
    expect(JSON.parse(await fsp.readFile(lockFile, 'utf8')).pid).toBe(process.pid);
    await expect(fsp.stat(`${lockFile}.takeover`)).rejects.toThrow();
    await lock.release();
  });

  it('a take-over guard of a live starter is respected', async () => {
    await fsp.mkdir(dataDir, { mode: 0o700 });
    const lockFile = path.join(dataDir, 'service.lock');
    await fsp.writeFile(lockFile, JSON.stringify({ pid: 2 ** 22 + 7, hostname: os.hostname(), acquiredAt: 'x', nonce: 'n' }));
    await fsp.mkdir(`${lockFile}.takeover`, { mode: 0o700 });
    await fsp.writeFile(path.join(`${lockFile}.takeover`, 'owner'), JSON.stringify({ pid: process.ppid }));
    await expect(acquireDataDirLock(dataDir)).rejects.toThrow(/being taken over/);
  });

  it('takes a lock file name and an owner name; leftover temp files follow the file name', async () => {
    await fsp.mkdir(dataDir, { mode: 0o700 });
    const dead = 2 ** 22 + 11;
    const ours = path.join(dataDir, `dc.lock.${dead}.0123abcd`);
    const others = path.join(dataDir, `service.lock.${dead}.0123abcd`);
    await fsp.writeFile(ours, '');
    await fsp.writeFile(others, '');
    const opts = { fileName: 'dc.lock', owner: 'sandbox DC' };
    const lock = await acquireDataDirLock(dataDir, opts);
    expect(path.basename(lock.file)).toBe('dc.lock');
    await expect(fsp.stat(ours)).rejects.toMatchObject({ code: 'ENOENT' });
    await fsp.stat(others); // another lock's leftovers are not ours to remove
    // A second acquire in this very process is refused, naming the owner; another file name is independent.
    await expect(acquireDataDirLock(dataDir, opts)).rejects.toThrow(/in use by process \d+ .*only one sandbox DC may use a data directory/);
    await (await acquireDataDirLock(dataDir)).release();
    await lock.release();
    await expect(acquireDataDirLock(dataDir, { fileName: '../x.lock' })).rejects.toThrow(/plain file name/);
  });

  it('a fresh lock from another host is respected', async () => {
    await fsp.mkdir(dataDir, { mode: 0o700 });
    const lockFile = path.join(dataDir, 'service.lock');
    await fsp.writeFile(lockFile, JSON.stringify({ pid: 42, hostname: 'other-host', acquiredAt: 'x', nonce: 'n' }));
    await expect(acquireDataDirLock(dataDir)).rejects.toThrow(/process 42 on other-host/);
  });

  it('of many processes racing to take over a stale lock, exactly one wins', async () => {
    await fsp.mkdir(dataDir, { mode: 0o700 });
    const stale = { pid: 2 ** 22 + 9, hostname: os.hostname(), acquiredAt: 'x', nonce: 'n' };
    await fsp.writeFile(path.join(dataDir, 'service.lock'), JSON.stringify(stale));
    // Each child says how it did, then holds on (a winner keeps its lock) until every child has said so:
    // a winner that exited while a slow starter was still on its way would rightly be taken over.
    const script = `
      const { acquireDataDirLock } = await import(${JSON.stringify(LOCK_MODULE)});
      try { await acquireDataDirLock(${JSON.stringify(dataDir)}); process.stdout.write('won'); }
      catch (e) { process.stdout.write(e.name === 'DataDirLockedError' ? 'lost' : 'error ' + e.message); }
      process.stdin.on('end', () => process.exit(0));
      process.stdin.resume();
    `;
    const racers = Array.from({ length: 6 }, () => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      children.push(child);
      const said = new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
      return { child, said };
    });
    const results = await Promise.all(racers.map((r) => r.said));
    for (const { child } of racers) child.stdin!.end();
    await Promise.all(racers.map((r) => exited(r.child)));
    expect(results.filter((r) => r === 'won')).toHaveLength(1);
    expect(results.filter((r) => r === 'lost')).toHaveLength(5);
  });
});

describe('holding is re-checked', () => {
  /** A lock checked every 50 ms whose loss is reported through the promise. */
  async function watchedLock(): Promise<{ lock: Awaited<ReturnType<typeof acquireDataDirLock>>; lost: Promise<DataDirLockLostError> }> {
    let report!: (err: DataDirLockLostError) => void;
    const lost = new Promise<DataDirLockLostError>((resolve) => (report = resolve));
    const lock = await acquireDataDirLock(dataDir, { checkIntervalMs: 50, onLost: report });
    return { lock, lost };
  }

  it('a deleted lock file is reported once, as removed; assertHeld throws the same error', async () => {
    const calls: DataDirLockLostError[] = [];
    const lock = await acquireDataDirLock(dataDir, { checkIntervalMs: 50, onLost: (e) => calls.push(e) });
    expect(() => lock.assertHeld()).not.toThrow();
    expect(lock.lost).toBeUndefined();
    await fsp.unlink(lock.file);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toBeInstanceOf(DataDirLockLostError);
    expect(calls[0]).toMatchObject({ reason: 'removed', file: lock.file, message: `lock file ${lock.file} was removed` });
    expect(() => lock.assertHeld()).toThrow(calls[0]!);
    expect(lock.lost).toBe(calls[0]);
  });

  it('the whole directory removed → removed', async () => {
    const { lost } = await watchedLock();
    await fsp.rm(dataDir, { recursive: true, force: true });
    expect((await lost).reason).toBe('removed');
  });

  it("another process's lock put in its place → replaced, naming the new holder; release() leaves it alone", async () => {
    const { lock, lost } = await watchedLock();
    const theirs = JSON.stringify({ pid: 4242, hostname: 'elsewhere', acquiredAt: 'x', nonce: 'theirs' });
    await fsp.writeFile(`${lock.file}.new`, theirs);
    await fsp.rename(`${lock.file}.new`, lock.file);
    const err = await lost;
    expect(err).toMatchObject({ reason: 'replaced' });
    expect(err.message).toBe(`lock file ${lock.file} was replaced by another file (now naming process 4242 on elsewhere)`);
    await lock.release();
    expect(await fsp.readFile(lock.file, 'utf8')).toBe(theirs);
  });

  it('its own content under a new inode → replaced; a symlink to it → replaced; the content overwritten in place → changed', async () => {
    const first = await watchedLock();
    await fsp.copyFile(first.lock.file, `${first.lock.file}.copy`);
    await fsp.rename(`${first.lock.file}.copy`, first.lock.file);
    expect((await first.lost).reason).toBe('replaced');
    await fsp.unlink(first.lock.file);

    const second = await watchedLock();
    await fsp.rename(second.lock.file, `${second.lock.file}.moved`);
    await fsp.symlink(`${second.lock.file}.moved`, second.lock.file);
    expect(await second.lost).toMatchObject({ reason: 'replaced', message: `lock file ${second.lock.file} was replaced by a symlink` });
    await fsp.rm(dataDir, { recursive: true, force: true });

    const third = await watchedLock();
    const content = await fsp.readFile(third.lock.file, 'utf8');
    await fsp.writeFile(third.lock.file, content.replace(String(process.pid), '1'));
    expect(await third.lost).toMatchObject({ reason: 'changed' });
  });

  it('the heartbeat (mtime) is not a change; checkIntervalMs 0 turns the checks off, assertHeld still checks', async () => {
    const calls: unknown[] = [];
    const lock = await acquireDataDirLock(dataDir, { checkIntervalMs: 0, onLost: (e) => calls.push(e) });
    const later = new Date(Date.now() + 5_000);
    await fsp.utimes(lock.file, later, later);
    expect(() => lock.assertHeld()).not.toThrow();
    await fsp.unlink(lock.file);
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toHaveLength(0);
    expect(() => lock.assertHeld()).toThrow(/was removed/);
    expect(calls).toHaveLength(1);
  });

  it('after a loss the directory can be locked again (by this process)', async () => {
    const { lock, lost } = await watchedLock();
    await fsp.unlink(lock.file);
    await lost;
    const again = await acquireDataDirLock(dataDir);
    expect(JSON.parse(await fsp.readFile(again.file, 'utf8')).pid).toBe(process.pid);
    await again.release();
    await lock.release(); // a no-op for the lost lock: the new one is already gone, nothing else removed
  });
});

describe('the lock file is never read through a symlink', () => {
  it('a young symlink at the lock path is respected like a lock being written; an old one is taken over, its target untouched', async () => {
    await fsp.mkdir(dataDir, { mode: 0o700 });
    const lockFile = path.join(dataDir, 'service.lock');
    // The target names a live holder: following the link would refuse the start forever.
    const target = path.join(root, 'target.lock');
    const live = JSON.stringify({ pid: process.ppid, hostname: os.hostname(), acquiredAt: 'x', nonce: 'n' });
    await fsp.writeFile(target, live);
    await fsp.symlink(target, lockFile);
    await expect(acquireDataDirLock(dataDir)).rejects.toThrow(/in use by a process that is starting up/);
    const old = new Date(Date.now() - 60_000);
    await fsp.lutimes(lockFile, old, old);
    const lock = await acquireDataDirLock(dataDir);
    expect(lock.warnings).toContain('took over a stale, unreadable data directory lock');
    expect((await fsp.lstat(lockFile)).isFile()).toBe(true);
    expect(await fsp.readFile(target, 'utf8')).toBe(live);
    await lock.release();
  });
});
