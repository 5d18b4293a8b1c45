/**
 * Issue 7 defect 1 — the data-directory lock lost while the service runs. A tmp cleaner deletes
 * `service.lock`, `rm -rf` takes the whole directory, or another process's lock file lands in its place:
 * the holder must notice within seconds, stop using the auth key at once (exit non-zero with a clear fatal
 * line, without the graceful shutdown's writes — the files may belong to someone else by now), so that a
 * second instance started after that is the only user of the key. The sandbox DC (in the test process)
 * is the witness: it never sees two live connections for one auth key. The in-process sandbox DC's own
 * lock (DATA_DIR/sandbox-dc/sandbox-dc.lock) gets the same treatment.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually, uniquePhone } from '../helpers/sandbox-service.js';
import { startService, TEST_ENV, type ServiceProcess } from '../helpers/service-process.js';
import { dcAndTempRoot } from './harness/shared-dc.js';
import { recordTotals } from './totals.js';

const AREA = 'lock (lost while running)';
const counts = { casesTried: 0, faultsInjected: 0, httpRequests: 0, sessionsLost: 0 };
/** The holder checks its lock every 2 s by default; "within seconds" with room for a loaded machine. */
const NOTICE_WITHIN_MS = 10_000;
const LOST_LINE = /^Data directory lock lost: .+; exiting so that two processes never use one session$/;

const shared = dcAndTempRoot('lock-lost-', () => recordTotals(AREA, counts));

let dirCounter = 0;
const newDataDir = () => path.join(shared.root, `d${++dirCounter}`, 'data');

/** A service on the test's DC with a logged-in account; returns it and the account's auth key id. */
async function loggedIn(dataDir: string, env: Record<string, string> = {}): Promise<{ svc: ServiceProcess; phone: string; keyId: string }> {
  const phone = uniquePhone('1563');
  shared.dc.controls.createUser({ phone, firstName: 'Lost' });
  const svc = await startService({ dc: shared.dc, dataDir, env: { ...TEST_ENV, ...env } });
  expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone })).status).toBe(200);
  const done = await svc.request('POST', '/api/telegram/auth/verify-code', { code: shared.dc.controls.lastCode(phone) });
  expect(done.body.state).toBe('authenticated');
  counts.httpRequests += 2;
  const keys = shared.dc.controls.authKeysOfUser(phone);
  expect(keys).toHaveLength(1);
  const keyId = keys[0]!.authKeyId;
  // After the sign-in the service reconnects on a fresh MTProto session: wait until it is live.
  expect((await svc.request('GET', '/api/telegram/me')).status).toBe(200);
  counts.httpRequests++;
  await eventually(() => (liveSessions(keyId).length > 0 ? true : undefined), 'the service\'s session to be live at the DC');
  return { svc, phone, keyId };
}

/** Sessions of `keyId` at the DC that have an open connection right now. */
const liveSessions = (keyId: string) => shared.dc.controls.listSessions().filter((s) => s.authKeyId === keyId && s.connections > 0);

/** Waits for the exit the lost lock must cause; checks it is fatal, clear, and skipped the graceful stop. */
async function expectExitForLostLock(svc: ServiceProcess, what: RegExp): Promise<void> {
  const exit = await Promise.race([
    svc.exited,
    new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), NOTICE_WITHIN_MS)),
  ]);
  expect(exit, `the service must exit within ${NOTICE_WITHIN_MS} ms of losing its lock`).not.toBe('still running');
  expect((exit as { code: number | null }).code).toBe(1);
  const fatal = svc.logLines().find((l) => typeof l.msg === 'string' && LOST_LINE.test(l.msg));
  expect(fatal, `no "Data directory lock lost" line; stderr: ${svc.output().stderr}`).toBeDefined();
  expect(fatal!.level).toBe(60); // pino's fatal
  expect(fatal!.msg).toMatch(what);
  expect(svc.output().stderr).toMatch(/Data directory lock lost: /);
  // No graceful shutdown: it would save the session and release the lock in a directory that may be another's.
  const messages = svc.logLines().map((l) => l.msg);
  expect(messages).not.toContain('Shutting down');
  expect(messages).not.toContain('telegram-service stopped');
}

describe('the service notices a lost data-directory lock and stops using the key', () => {
  it('service.lock deleted while running → exits within seconds; a second instance is then the only user of the key', async () => {
    counts.casesTried++;
    const dataDir = newDataDir();
    const { svc, keyId } = await loggedIn(dataDir);
    expect(liveSessions(keyId)).toHaveLength(1);

    fs.unlinkSync(path.join(dataDir, 'service.lock'));
    counts.faultsInjected++;
    await expectExitForLostLock(svc, /service\.lock was removed/);
    await eventually(() => (liveSessions(keyId).length === 0 ? true : undefined), 'the lost holder\'s connections to close');

    // The next instance takes the directory and the session, and is alone on the key.
    const second = await startService({ dc: shared.dc, dataDir, env: TEST_ENV });
    const me = await second.request('GET', '/api/telegram/me');
    counts.httpRequests++;
    if (me.status !== 200) counts.sessionsLost++;
    expect(me.status).toBe(200);
    expect(svc.proc.exitCode).not.toBeNull();
    expect(liveSessions(keyId)).toHaveLength(1);
    expect(await second.stop()).toBe(0);
  });

  it('service.lock replaced by another process\'s lock file → exits within seconds, leaving that lock alone', async () => {
    counts.casesTried++;
    const dataDir = newDataDir();
    const { svc, keyId } = await loggedIn(dataDir);
    const lockFile = path.join(dataDir, 'service.lock');
    // A live process's lock (this test process), put in place atomically as a starter would.
    const theirs = JSON.stringify({ pid: process.pid, hostname: os.hostname(), acquiredAt: new Date().toISOString(), nonce: '0123456789abcdef01234567' }) + '\n';
    fs.writeFileSync(`${lockFile}.planted`, theirs, { mode: 0o600 });
    fs.renameSync(`${lockFile}.planted`, lockFile);
    counts.faultsInjected++;
    await expectExitForLostLock(svc, /service\.lock was replaced/);
    expect(fs.readFileSync(lockFile, 'utf8')).toBe(theirs);
    await eventually(() => (liveSessions(keyId).length === 0 ? true : undefined), 'the lost holder\'s connections to close');
  });

  it('the same content under a new inode (copied back by a tool) is not the holder\'s lock any more → exits', async () => {
    counts.casesTried++;
    const dataDir = newDataDir();
    const { svc } = await loggedIn(dataDir);
    const lockFile = path.join(dataDir, 'service.lock');
    fs.copyFileSync(lockFile, `${lockFile}.copy`);
    fs.renameSync(`${lockFile}.copy`, lockFile);
    counts.faultsInjected++;
    await expectExitForLostLock(svc, /service\.lock was replaced/);
  });

  it('rm -rf DATA_DIR while running → exits within seconds', async () => {
    counts.casesTried++;
    const dataDir = newDataDir();
    // The log lives elsewhere here, or the fatal line would go down with the directory.
    const { svc } = await loggedIn(dataDir, { LOG_FILE: path.join(shared.root, `rm-rf-${dirCounter}.log`) });
    fs.rmSync(dataDir, { recursive: true, force: true });
    counts.faultsInjected++;
    await expectExitForLostLock(svc, /service\.lock was removed/);
  });

  it('the in-process sandbox DC\'s lock deleted → the service exits the same way', async () => {
    counts.casesTried++;
    const svc = await startService({ env: { LOGIN_RATE_LIMIT: '0' } });
    expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone: '+9996621234' })).status).toBe(200);
    expect((await svc.request('POST', '/api/telegram/auth/verify-code', { code: '22222' })).body.state).toBe('authenticated');
    counts.httpRequests += 2;
    fs.unlinkSync(path.join(svc.dataDir, 'sandbox-dc', 'sandbox-dc.lock'));
    counts.faultsInjected++;
    await expectExitForLostLock(svc, /sandbox-dc\.lock was removed/);
  });
});
