/**
 * The service's user for the one thing root cannot be shown: a file it may not read (root ignores file
 * modes, so `chmod 000` proves nothing when the service runs as root). When the tests run as root, the
 * service runs as `nobody` (startService({ user: SERVICE_USER })) on a data directory owned by `nobody`;
 * otherwise it runs as the current user, for whom `chmod 000` already means EACCES.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const NOBODY = { uid: 65534, gid: 65534 };
export const RUNNING_AS_ROOT = process.getuid?.() === 0;
/** Who the service runs as in these tests: `nobody` when this process is root, else this process's user. */
export const SERVICE_USER = RUNNING_AS_ROOT ? NOBODY : undefined;

/** A directory tree both this process and the service's user can reach (mode 0755, owned by that user). */
export function makeSharedRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'run-as-'));
  fs.chmodSync(root, 0o755);
  if (RUNNING_AS_ROOT) fs.chownSync(root, NOBODY.uid, NOBODY.gid);
  return root;
}

/** chown -R to the service's user (only when running as root). */
export function giveToServiceUser(dir: string): void {
  if (!RUNNING_AS_ROOT) return;
  fs.chownSync(dir, NOBODY.uid, NOBODY.gid);
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    const stat = fs.lstatSync(p);
    if (stat.isDirectory()) giveToServiceUser(p);
    else fs.lchownSync(p, NOBODY.uid, NOBODY.gid);
  }
}
