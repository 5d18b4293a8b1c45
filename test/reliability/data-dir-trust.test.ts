/**
 * Issue 7 defect 4 — a data directory trusted too much, through the real service process. A DATA_DIR
 * that another user owns or that others can write is refused (exit 2, one clear line) and left exactly as
 * it was (an existing 1777 directory like /tmp is never chmod'ed); no file the service opens in it is
 * followed through a symlink (api_token, the log file, the lock, the in-process sandbox DC's files), and a
 * FIFO planted in place of one is refused instead of hanging the start.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startService, TEST_ENV, type ServiceProcess } from '../helpers/service-process.js';
import { NOBODY, RUNNING_AS_ROOT } from './harness/run-as-user.js';
import { dcAndTempRoot } from './harness/shared-dc.js';
import { recordTotals } from './totals.js';

const AREA = 'files (data directory trust)';
const counts = { casesTried: 0, crashes: 0, httpRequests: 0 };
/** A refused start is immediate; this only bounds a start that hangs (a FIFO read before the fix). */
const EXIT_WITHIN_MS = 15_000;

const shared = dcAndTempRoot('dir-trust-', () => recordTotals(AREA, counts));

let caseCounter = 0;
/** A fresh, private (0700) data directory that exists before the service starts. */
function privateDir(): string {
  const dir = path.join(shared.root, `case-${++caseCounter}`, 'data');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  return dir;
}
/** A file outside every data directory, for links to point at. */
function outsideFile(content: string, mode = 0o644): string {
  const file = path.join(shared.root, `outside-${++caseCounter}`);
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
  return file;
}
const modeOf = (p: string) => fs.lstatSync(p).mode & 0o7777;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Starts the service expecting a refusal: exit code 2 and `message` on stderr, quickly. */
async function expectRefused(opts: { dataDir: string; env?: Record<string, string>; inProcessDc?: boolean }, message: RegExp): Promise<ServiceProcess> {
  counts.casesTried++;
  const svc = await startService({
    dataDir: opts.dataDir,
    noWait: true,
    ...(opts.inProcessDc ? {} : { dc: shared.dc }),
    // The log file is put outside the refused directory, so that a refusal is not hidden by the log's own.
    env: { LOG_FILE: path.join(shared.root, `log-${caseCounter}.log`), ...opts.env },
  });
  const exit = await Promise.race([
    svc.exited,
    new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), EXIT_WITHIN_MS)),
  ]);
  if (exit === 'still running') await svc.kill9();
  expect(exit, `the service must refuse at once; stderr: ${svc.output().stderr}`).toEqual({ code: 2, signal: null });
  expect(svc.output().stderr).toMatch(message);
  return svc;
}

describe('a data directory others control is refused, and left as it was', () => {
  it('owned by another user → exit 2, nothing written, mode and owner unchanged', async () => {
    // As root the fixture is a private directory given to nobody; otherwise a root-owned system directory.
    const dir = RUNNING_AS_ROOT ? privateDir() : '/usr/share';
    if (RUNNING_AS_ROOT) fs.chownSync(dir, NOBODY.uid, NOBODY.gid);
    const before = fs.statSync(dir);
    const namesBefore = fs.readdirSync(dir);
    await expectRefused({ dataDir: dir }, new RegExp(`data directory ${escape(dir)} is owned by uid ${before.uid}, not by this user \\(uid ${process.getuid!()}\\)`));
    const after = fs.statSync(dir);
    expect([after.uid, after.mode]).toEqual([before.uid, before.mode]);
    expect(fs.readdirSync(dir)).toEqual(namesBefore);
  });

  it('mode 1777 (a shared directory like /tmp) → exit 2, never chmod\'ed to 0700', async () => {
    const dir = privateDir();
    fs.chmodSync(dir, 0o1777);
    await expectRefused({ dataDir: dir }, new RegExp(`data directory ${escape(dir)} is writable by others \\(mode 01777\\); refusing to use it`));
    expect(modeOf(dir)).toBe(0o1777);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('group-writable (0770) → exit 2, mode unchanged', async () => {
    const dir = privateDir();
    fs.chmodSync(dir, 0o770);
    await expectRefused({ dataDir: dir }, /is writable by its group \(mode 0770\); refusing to use it/);
    expect(modeOf(dir)).toBe(0o770);
  });

  it('the in-process sandbox DC\'s directory (DATA_DIR/sandbox-dc) gets the same check', async () => {
    const dir = privateDir();
    fs.mkdirSync(path.join(dir, 'sandbox-dc'), { mode: 0o700 });
    fs.chmodSync(path.join(dir, 'sandbox-dc'), 0o777);
    await expectRefused({ dataDir: dir, inProcessDc: true }, /sandbox-dc is writable by others \(mode 0777\); refusing to use it/);
    expect(modeOf(path.join(dir, 'sandbox-dc'))).toBe(0o777);
  });
});

describe('no file in the data directory is opened through a symlink', () => {
  it('api_token is a symlink → exit 2; the link\'s target is neither read as the token nor chmod\'ed', async () => {
    const dir = privateDir();
    const target = outsideFile('planted-token-0123456789abcdef\n', 0o644);
    fs.symlinkSync(target, path.join(dir, 'api_token'));
    await expectRefused({ dataDir: dir }, /api_token is a symlink; refusing to follow it/);
    expect(modeOf(target)).toBe(0o644);
    expect(fs.lstatSync(path.join(dir, 'api_token')).isSymbolicLink()).toBe(true);
  });

  it('api_token is a FIFO → exit 2 at once instead of hanging the start', async () => {
    const dir = privateDir();
    execFileSync('mkfifo', [path.join(dir, 'api_token')]);
    await expectRefused({ dataDir: dir }, /api_token is not a regular file/);
  });

  it('the log file in DATA_DIR is a symlink → exit 2; its target gets no line and keeps its mode', async () => {
    const dir = privateDir();
    const target = outsideFile('precious\n', 0o644);
    fs.symlinkSync(target, path.join(dir, 'telegram_service.log'));
    await expectRefused({ dataDir: dir, env: { LOG_FILE: path.join(dir, 'telegram_service.log') } }, /telegram_service\.log is a symlink; refusing to follow it/);
    expect(fs.readFileSync(target, 'utf8')).toBe('precious\n');
    expect(modeOf(target)).toBe(0o644);
  });

  it('LOG_FILE elsewhere naming a symlink → exit 2, target untouched', async () => {
    const dir = privateDir();
    const target = outsideFile('precious\n', 0o644);
    const link = path.join(shared.root, `log-link-${caseCounter}.log`);
    fs.symlinkSync(target, link);
    await expectRefused({ dataDir: dir, env: { LOG_FILE: link } }, /is a symlink; refusing to follow it/);
    expect(fs.readFileSync(target, 'utf8')).toBe('precious\n');
    expect(modeOf(target)).toBe(0o644);
  });

  it('service.lock is an old symlink to a live holder\'s lock file → not followed: taken over as a stale lock, target untouched', async () => {
    const dir = privateDir();
    const live = JSON.stringify({ pid: process.pid, hostname: os.hostname(), acquiredAt: new Date().toISOString(), nonce: 'aaaaaaaaaaaaaaaaaaaaaaaa' });
    const target = outsideFile(live, 0o600);
    const link = path.join(dir, 'service.lock');
    fs.symlinkSync(target, link);
    const old = new Date(Date.now() - 60_000);
    fs.lutimesSync(link, old, old);
    counts.casesTried++;
    const svc = await startService({ dc: shared.dc, dataDir: dir, env: TEST_ENV });
    try {
      await svc.waitForLog('took over a stale, unreadable data directory lock');
      expect(fs.lstatSync(link).isFile()).toBe(true);
      expect(fs.readFileSync(target, 'utf8')).toBe(live);
      counts.httpRequests++;
      expect((await svc.request('GET', '/api/telegram/status')).status).toBe(200);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  for (const name of ['state.json', 'auth-keys.jsonl', 'rsa_key.pem']) {
    it(`the in-process sandbox DC's ${name} is a symlink → exit 2, its target untouched`, async () => {
      const dir = privateDir();
      const dcDir = path.join(dir, 'sandbox-dc');
      fs.mkdirSync(dcDir, { mode: 0o700 });
      const target = outsideFile('', 0o644);
      fs.symlinkSync(target, path.join(dcDir, name));
      await expectRefused({ dataDir: dir, inProcessDc: true }, new RegExp(`${escape(name)} is a symlink; refusing to follow it`));
      expect(fs.readFileSync(target, 'utf8')).toBe('');
      expect(modeOf(target)).toBe(0o644);
    });
  }
});
