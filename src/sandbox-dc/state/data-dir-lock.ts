/**
 * One DC per data dir: `<dataDir>/sandbox-dc.lock` holds the owner's pid. A lock left behind by a
 * process that no longer runs (killed, crashed) is taken over at once, so a DC can restart right
 * after a crash.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

const LOCK_FILE = 'sandbox-dc.lock';
/** Data dirs locked by this process (a pid check cannot tell two in-process DCs apart). */
const lockedHere = new Set<string>();

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryCreate(path: string): boolean {
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, String(process.pid));
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** Takes the lock or throws a clear error; returns the release function. */
export function lockDataDir(dataDir: string): () => void {
  const dir = resolve(dataDir);
  const path = join(dir, LOCK_FILE);
  if (lockedHere.has(dir)) throw new Error(`sandbox DC data dir ${dataDir} is already in use by a DC in this process`);
  for (let attempt = 0; attempt < 2; attempt++) {
    if (tryCreate(path)) {
      lockedHere.add(dir);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        lockedHere.delete(dir);
        rmSync(path, { force: true });
      };
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(path, 'utf8').trim());
    } catch {
      // vanished meanwhile: retry
    }
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processIsAlive(owner)) {
      throw new Error(`sandbox DC data dir ${dataDir} is in use by process ${owner}`);
    }
    rmSync(path, { force: true }); // left behind by a process that is gone
  }
  throw new Error(`could not lock sandbox DC data dir ${dataDir}`);
}
