/** Files of a private directory opened without trusting their path; the directory's own trust check; the open-file limit. */
import { execFileSync } from 'node:child_process';
import { closeSync, promises as fsp, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendLineDurableSync, ensurePrivateDir, tightenFileMode } from '../src/atomic-file.js';
import { openFileLimit } from '../src/open-file-limit.js';
import { assertDirTrusted, openPrivateAppendSync, readPrivateFileSync, UntrustedPathError } from '../src/private-files.js';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'private-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const modeOf = async (p: string) => (await fsp.lstat(p)).mode & 0o7777;
/** A file outside `dir` that links inside it point at. */
async function outside(content: string): Promise<string> {
  const file = path.join(os.tmpdir(), `private-target-${process.pid}-${Math.random().toString(16).slice(2)}`);
  await fsp.writeFile(file, content, { mode: 0o644 });
  await fsp.chmod(file, 0o644);
  return file;
}

describe('readPrivateFileSync', () => {
  it('reads a regular file; undefined when absent; a loose mode is fixed through the descriptor, with a warning', async () => {
    const file = path.join(dir, 'token');
    expect(readPrivateFileSync(file, { maxBytes: 100 })).toBeUndefined();
    await fsp.writeFile(file, 'secret\n', { mode: 0o644 });
    await fsp.chmod(file, 0o644);
    const read = readPrivateFileSync(file, { maxBytes: 100 })!;
    expect(read.bytes.toString()).toBe('secret\n');
    expect(read.warnings).toEqual([`${file} had mode 0644; fixed to 0600`]);
    expect(await modeOf(file)).toBe(0o600);
  });

  it('refuses a symlink (its target neither read nor re-moded), a FIFO (without hanging) and a file over the cap', async () => {
    const target = await outside('planted');
    const link = path.join(dir, 'link');
    await fsp.symlink(target, link);
    expect(() => readPrivateFileSync(link, { maxBytes: 100 })).toThrow(new UntrustedPathError(link, 'symlink', `${link} is a symlink; refusing to follow it (replace it with a regular file, or remove it)`));
    expect(await modeOf(target)).toBe(0o644);
    await fsp.rm(target);

    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => readPrivateFileSync(fifo, { maxBytes: 100 })).toThrow(expect.objectContaining({ reason: 'not_regular_file' }));

    const big = path.join(dir, 'big');
    await fsp.writeFile(big, 'x'.repeat(101));
    expect(() => readPrivateFileSync(big, { maxBytes: 100 })).toThrow(expect.objectContaining({ reason: 'too_large' }));
    expect(readPrivateFileSync(big, { maxBytes: 101 })!.bytes.length).toBe(101);
  });
});

describe('appending never follows a symlink', () => {
  it('openPrivateAppendSync creates 0600, tightens a loose file, refuses a link and a FIFO', async () => {
    const file = path.join(dir, 'log');
    const { fd } = openPrivateAppendSync(file);
    writeSync(fd, 'a\n');
    closeSync(fd);
    expect(await modeOf(file)).toBe(0o600);
    await fsp.chmod(file, 0o640);
    const again = openPrivateAppendSync(file);
    closeSync(again.fd);
    expect(again.warning).toBe(`${file} had mode 0640; fixed to 0600`);

    const target = await outside('precious\n');
    const link = path.join(dir, 'link.log');
    await fsp.symlink(target, link);
    expect(() => openPrivateAppendSync(link)).toThrow(/link\.log is a symlink; refusing to follow it/);
    expect(() => appendLineDurableSync(link, 'x')).toThrow(UntrustedPathError);
    expect(await fsp.readFile(target, 'utf8')).toBe('precious\n');
    expect(await modeOf(target)).toBe(0o644);
    await fsp.rm(target);

    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => openPrivateAppendSync(fifo)).toThrow(expect.objectContaining({ reason: 'not_regular_file' }));
  });

  it('tightenFileMode leaves a symlink and its target alone', async () => {
    const target = await outside('x');
    const link = path.join(dir, 'session.json.bak');
    await fsp.symlink(target, link);
    expect(await tightenFileMode(link)).toBeUndefined();
    expect(await modeOf(target)).toBe(0o644);
    await fsp.rm(target);
  });
});

describe('the data directory must be private', () => {
  it('ensurePrivateDir refuses a directory others (or its group) can write, and leaves it as it was', async () => {
    for (const mode of [0o1777, 0o777, 0o770, 0o720]) {
      const target = path.join(dir, `d${mode.toString(8)}`);
      await fsp.mkdir(target);
      await fsp.chmod(target, mode);
      const err = await ensurePrivateDir(target).catch((e: unknown) => e);
      expect(err, mode.toString(8)).toBeInstanceOf(UntrustedPathError);
      expect((err as UntrustedPathError).reason).toBe('writable_by_others');
      expect((err as Error).message).toMatch(new RegExp(`is writable by (others|its group) \\(mode 0${mode.toString(8)}\\); refusing to use it`));
      expect(await modeOf(target)).toBe(mode);
    }
  });

  it('assertDirTrusted refuses a directory owned by another uid, naming both', () => {
    const stat = statSync(dir);
    expect(() => assertDirTrusted(dir, stat, stat.uid)).not.toThrow();
    expect(() => assertDirTrusted(dir, stat, stat.uid + 1)).toThrow(
      `data directory ${dir} is owned by uid ${stat.uid}, not by this user (uid ${stat.uid + 1}); refusing to use it`,
    );
  });
});

describe('openFileLimit', () => {
  it('reads the soft limit from /proc/self/limits; unknown or unlimited → undefined', async () => {
    const sample = path.join(dir, 'limits');
    await fsp.writeFile(sample, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 4096                 files\n');
    expect(openFileLimit(sample)).toBe(1024);
    await fsp.writeFile(sample, 'Max open files            unlimited            unlimited            files\n');
    expect(openFileLimit(sample)).toBeUndefined();
    expect(openFileLimit(path.join(dir, 'absent'))).toBeUndefined();
    expect(openFileLimit()).toBeGreaterThan(0); // this machine is Linux
  });
});
