/**
 * A small real filesystem for disk-trouble tests: a tmpfs that can be filled up (ENOSPC) and remounted
 * read-only (EROFS) — errors that chmod cannot produce for root, and that nothing is faked to produce.
 *
 *   const disk = await mountTmpfs(1024);          // 1 MiB
 *   const dataDir = path.join(disk.dir, 'data');  // give this to the store or the service process
 *   const filler = disk.fill();  …  fs.rmSync(filler);
 *   disk.remount('ro');  …  disk.remount('rw');
 *   await disk.dispose();
 *
 * Two real ways to mount it, tried in this order:
 * - `mount` here, when this process may (root with CAP_SYS_ADMIN);
 * - otherwise in an unprivileged user + mount namespace (`unshare --user --map-root-user --mount`, from
 *   util-linux), held open by a small holder process; this process and the service it starts reach the
 *   filesystem through `/proc/<holder>/root/…`, and `remount` runs inside the namespace (`nsenter`).
 * Where neither works, mountTmpfs throws saying why: disk tests fail, they never skip.
 * `TMPFS_VIA=userns` forces the namespace (to prove that way on a machine where root could mount).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Tmpfs {
  /** The filesystem's root as this process (and any process it starts) reaches it. */
  readonly dir: string;
  readonly via: 'mount' | 'user namespace';
  /** Fills the filesystem until ENOSPC; returns the filler file (remove it to free the space). */
  fill(): string;
  remount(mode: 'ro' | 'rw'): void;
  /** Unmounts and removes everything (after the processes using it have stopped). */
  dispose(): Promise<void>;
}

type Way = Tmpfs['via'];

let chosen: Promise<Way> | undefined;

export async function mountTmpfs(sizeKb: number): Promise<Tmpfs> {
  chosen ??= chooseWay();
  const way = await chosen;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tmpfs-'));
  const mountPoint = path.join(root, 'mnt');
  fs.mkdirSync(mountPoint);
  try {
    return way === 'mount' ? mountHere(root, mountPoint, sizeKb) : await mountInNamespace(root, mountPoint, sizeKb);
  } catch (err) {
    fs.rmSync(root, { recursive: true, force: true });
    throw err;
  }
}

/** `mount -t tmpfs` options, and the remount form that works both as root and inside a user namespace. */
const mountArgs = (sizeKb: number, dir: string) => ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0700`, 'tmpfs', dir];
/**
 * The kernel refuses a read-only remount while a file on it is open for writing (the service's event journal
 * holds its segment open for a second after each append): tried again for up to 15 s.
 */
function retryWhileBusy(remount: () => unknown): void {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      remount();
      return;
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? '');
      if (!/busy/i.test(stderr) || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}

const remountArgs = (mode: 'ro' | 'rw', dir: string) => ['-t', 'tmpfs', '-o', `remount,${mode}`, 'tmpfs', dir];
const UNSHARE = ['--user', '--map-root-user', '--mount'];

async function chooseWay(): Promise<Way> {
  const forced = process.env.TMPFS_VIA;
  const problems: string[] = [];
  if (forced !== 'userns') {
    const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'tmpfs-probe-'));
    try {
      execFileSync('mount', mountArgs(64, probe), { stdio: 'pipe' });
      execFileSync('umount', [probe], { stdio: 'pipe' });
      return 'mount';
    } catch (err) {
      problems.push(`mount: ${firstLine(err)}`);
    } finally {
      fs.rmSync(probe, { recursive: true, force: true });
    }
  }
  try {
    execFileSync('unshare', [...UNSHARE, 'sh', '-c', `mount ${mountArgs(64, '/tmp').join(' ')}`], { stdio: 'pipe' });
    return 'user namespace';
  } catch (err) {
    problems.push(`unshare ${UNSHARE.join(' ')}: ${firstLine(err)}`);
  }
  throw new Error(
    `cannot mount a tmpfs for the disk tests (${problems.join('; ')}). They need root with CAP_SYS_ADMIN, or ` +
      'unprivileged user namespaces (util-linux unshare; user.max_user_namespaces > 0).',
  );
}

function mountHere(root: string, mountPoint: string, sizeKb: number): Tmpfs {
  execFileSync('mount', mountArgs(sizeKb, mountPoint));
  return {
    dir: mountPoint,
    via: 'mount',
    fill: () => fillDisk(mountPoint),
    remount: (mode) => retryWhileBusy(() => execFileSync('mount', remountArgs(mode, mountPoint), { stdio: 'pipe' })),
    async dispose() {
      try {
        execFileSync('umount', [mountPoint], { stdio: 'ignore' });
      } catch {
        execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
      }
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

const holders = new Set<ChildProcess>();
process.once('exit', () => {
  for (const holder of holders) holder.kill('SIGKILL');
});

/**
 * The holder mounts the tmpfs in its new namespace and then waits on its stdin: it (and with it the
 * namespace and the tmpfs) ends when disposed or when this process dies and the pipe closes.
 */
async function mountInNamespace(root: string, mountPoint: string, sizeKb: number): Promise<Tmpfs> {
  const script = `mount ${mountArgs(sizeKb, '"$0"').join(' ')} && echo mounted && exec cat >/dev/null`;
  const holder = spawn('unshare', [...UNSHARE, 'sh', '-c', script, mountPoint], { stdio: ['pipe', 'pipe', 'pipe'] });
  holders.add(holder);
  const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()));
  let stderr = '';
  holder.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('mounted') && resolve());
    holder.once('exit', (code) => reject(new Error(`unshare ${UNSHARE.join(' ')} could not mount a tmpfs (exit ${code}): ${stderr.trim()}`)));
    holder.once('error', reject);
  });
  const dir = `/proc/${holder.pid}/root${mountPoint}`;
  return {
    dir,
    via: 'user namespace',
    fill: () => fillDisk(dir),
    remount: (mode) =>
      retryWhileBusy(() =>
        execFileSync('nsenter', ['--target', String(holder.pid), '--user', '--mount', '--preserve-credentials', 'mount', ...remountArgs(mode, mountPoint)], { stdio: 'pipe' }),
      ),
    async dispose() {
      holder.stdin!.end();
      holder.kill('SIGKILL');
      await exited;
      holders.delete(holder);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

function fillDisk(dir: string): string {
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

function firstLine(err: unknown): string {
  const stderr = (err as { stderr?: Buffer | string }).stderr?.toString().trim();
  return (stderr || (err as Error).message).split('\n')[0]!;
}
