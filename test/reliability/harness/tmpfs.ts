/**
 * Real disk trouble for the real service: a small tmpfs mounted on a directory, filled up (ENOSPC) or
 * remounted read-only (EROFS). Needs root with CAP_SYS_ADMIN; where mount is not permitted the tests
 * that need it skip and say so (nothing is faked instead).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let probed: boolean | undefined;
export function canMountTmpfs(): boolean {
  if (probed !== undefined) return probed;
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'tmpfs-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    probed = true;
  } catch {
    probed = false;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
  return probed;
}

export function mountTmpfs(dir: string, sizeKb: number): void {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0700`, 'tmpfs', dir]);
}

export function remount(dir: string, mode: 'ro' | 'rw'): void {
  execFileSync('mount', ['-o', `remount,${mode}`, dir]);
}

export function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  }
}

/** Fills the filesystem holding `dir` until ENOSPC; returns the filler file (remove it to free the space). */
export function fillDisk(dir: string): string {
  const filler = path.join(dir, `filler-${process.pid}-${Date.now()}`);
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  // The last partial page: keep writing single bytes until nothing fits.
  try {
    for (;;) fs.writeSync(fd, chunk, 0, 1);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}
