/**
 * Issue 4 item 5 — disk trouble under the real service process, on a real filesystem: the data directory
 * is a small tmpfs, filled up (ENOSPC) or remounted read-only (EROFS) while the service runs. The service
 * keeps serving from memory, reports the error in status (`persistenceError`) and the log, retries, and
 * loses nothing already on disk. The tmpfs is mounted here when this process may, else in an unprivileged
 * user namespace (test/helpers/tmpfs.ts); where neither works the tests fail saying why — never skip.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { type ServiceProcess, startService, TEST_ENV } from '../helpers/service-process.js';
import { backdateAuthState, hasAuthKey, inspectDataDir } from './harness/data-dir.js';
import { eventually, sleep, uniquePhone } from '../helpers/sandbox-service.js';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.js';
import { recordTotals } from './totals.js';
import { accountFile } from '../helpers/layout.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const AREA = 'disk (ENOSPC / EROFS)';
const counts = { casesTried: 0, faultsInjected: 0, sessionsLost: 0, http5xx: 0, crashes: 0, httpRequests: 0 };

let dc: TestSandbox;
let root: string | undefined;
let disk: Tmpfs | undefined;
const running: ServiceProcess[] = [];

beforeAll(async () => {
  dc = await startTestSandbox();
});
afterAll(async () => {
  recordTotals(AREA, counts);
  await dc?.dispose();
});
afterEach(async () => {
  for (const svc of running.splice(0)) await svc.kill9();
  await disk?.dispose();
  disk = undefined;
  if (root) fs.rmSync(root, { recursive: true, force: true });
  root = undefined;
});

/** A fresh tmpfs (`disk`, 1 MiB by default) and a directory beside it for log files (`root`); returns the data directory. */
async function setUp(sizeKb = 1024): Promise<string> {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'disk-'));
  disk = await mountTmpfs(sizeKb);
  return path.join(disk.dir, 'data');
}

/** The current test's tmpfs (set up by setUp). */
function tmpfs(): Tmpfs {
  if (!disk) throw new Error('setUp() first');
  return disk;
}

/** The directory for log files that must survive the full or read-only disk. */
function logDir(): string {
  if (!root) throw new Error('setUp() first');
  return root;
}

async function start(dataDir: string, opts: { logOnTmpfs?: boolean } = {}): Promise<ServiceProcess> {
  counts.casesTried++;
  const env = opts.logOnTmpfs ? {} : { LOG_FILE: path.join(logDir(), `service-${running.length}.log`) };
  const svc = await startService({ dc, dataDir, env: { ...TEST_ENV, ...env } });
  running.push(svc);
  return svc;
}

async function call(svc: ServiceProcess, method: string, route: string, body?: unknown) {
  counts.httpRequests++;
  const res = await svc.request(method, route, body);
  if (res.status >= 500) counts.http5xx++;
  return res;
}

async function status(svc: ServiceProcess) {
  const res = await call(svc, 'GET', '/api/telegram/status');
  expect(res.status).toBe(200);
  return res.body;
}

async function login(svc: ServiceProcess, phone: string): Promise<void> {
  expect((await call(svc, 'POST', '/api/telegram/auth/send-code', { phone })).status).toBe(200);
  const done = await call(svc, 'POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) });
  expect(done.body.state).toBe('authenticated');
}

function newPhone(): string {
  const phone = uniquePhone('1561');
  dc.controls.createUser({ phone, firstName: 'Disk' });
  return phone;
}

const readIf = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file) : undefined);
const messages = (svc: ServiceProcess) => svc.logLines().map((l) => String(l.msg ?? ''));

async function persistenceError(svc: ServiceProcess, code: string) {
  return eventually(async () => {
    const st = await status(svc);
    return st.persistenceError?.code === code ? st : undefined;
  }, `status.persistenceError.code ${code}`);
}

async function persistenceCleared(svc: ServiceProcess) {
  // The store retries on a backoff timer (1 s, 2 s, 4 s …).
  return eventually(async () => {
    const st = await status(svc);
    return st.persistenceError === undefined ? st : undefined;
  }, 'persistenceError to clear after the retry', 30_000);
}

describe('disk trouble on a real tmpfs', () => {
  it('full disk while logged in: served from memory, ENOSPC in status and log, old files kept, written once space returns; a start on the full disk refuses clearly and loses nothing', async () => {
    const dataDir = await setUp();
    const phone = newPhone();
    const svc = await start(dataDir);
    await login(svc, phone);
    // The last-known-good copy follows session.json beside the store's queue: once it has caught up, no
    // write is in flight that could free space after the disk is filled.
    await eventually(() => {
      const main = readIf(accountFile(dataDir, 'session.json'));
      return main !== undefined && main.equals(readIf(accountFile(dataDir, 'session.json.bak')) ?? Buffer.alloc(0));
    }, 'session.json.bak to catch up');
    const sessionBefore = readIf(accountFile(dataDir, 'session.json'));
    const authBefore = readIf(accountFile(dataDir, 'auth_state.json'));

    const filler = tmpfs().fill();
    counts.faultsInjected++;
    // A FLOOD_WAIT deadline must go to session.json: that write hits the full disk.
    dc.controls.injectFloodWait('users.getUsers', 2, 1);
    expect((await call(svc, 'GET', '/api/telegram/me')).status).toBe(429);
    const st = await persistenceError(svc, 'ENOSPC');
    expect(st).toMatchObject({ state: 'authenticated', persistenceError: { file: accountFile(dataDir, 'session.json') } });
    expect(st.floodWaitUntil).toBeDefined(); // served from memory
    expect(messages(svc)).toEqual(expect.arrayContaining([LOG_MESSAGES.writeFailed('session.json', 'ENOSPC')]));
    expect(readIf(accountFile(dataDir, 'session.json'))).toEqual(sessionBefore);
    expect(readIf(accountFile(dataDir, 'auth_state.json'))).toEqual(authBefore);
    expect(fs.readdirSync(dataDir).filter((n) => n.includes('.tmp-'))).toEqual([]);

    // Still talking to Telegram from memory once the wait is over.
    await sleep(2_100);
    expect((await call(svc, 'GET', '/api/telegram/me')).status).toBe(200);

    fs.rmSync(filler);
    await persistenceCleared(svc);
    expect(messages(svc)).toContain(LOG_MESSAGES.writableAgain);
    const snap = inspectDataDir(dataDir);
    expect(snap.session.kind === 'ok' && snap.session.value.floodWaits?.['users.getUsers']).toBeTruthy();

    // kill -9, then a start while the disk is full again: the lock cannot be written, so it refuses with
    // a clear message — and the session on disk survives for the start after space returns.
    await svc.kill9();
    const filler2 = tmpfs().fill();
    counts.faultsInjected++;
    const refused = await startService({ dataDir, noWait: true, dc, env: { LOG_FILE: path.join(logDir(), 'refused.log') } });
    running.push(refused);
    expect((await refused.exited).code).toBe(1);
    expect(refused.output().stderr).toMatch(/no space left on the device \(ENOSPC\)/);
    fs.rmSync(filler2);
    const again = await start(dataDir);
    expect(await status(again)).toMatchObject({ state: 'authenticated', session: { restored: true } });
    await again.waitForLog(LOG_MESSAGES.sessionRestored);
    expect(await again.stop()).toBe(0);
  });

  it('logging in on a full disk: the login completes in memory, status reports ENOSPC, the files appear when space returns and survive kill -9', async () => {
    const dataDir = await setUp();
    const phone = newPhone();
    const svc = await start(dataDir);
    const filler = tmpfs().fill();
    counts.faultsInjected++;
    await login(svc, phone);
    const st = await persistenceError(svc, 'ENOSPC');
    expect(st.state).toBe('authenticated');
    expect(fs.existsSync(accountFile(dataDir, 'auth_state.json'))).toBe(false);

    fs.rmSync(filler);
    await persistenceCleared(svc);
    const snap = inspectDataDir(dataDir);
    expect(hasAuthKey(snap)).toBe(true);
    expect(snap.authState.kind).toBe('ok');

    await svc.kill9();
    const again = await start(dataDir);
    const after = await status(again);
    if (after.state !== 'authenticated') counts.sessionsLost++;
    expect(after.state).toBe('authenticated');
    await again.waitForLog(LOG_MESSAGES.sessionRestored);
    expect(await again.stop()).toBe(0);
  });

  it('the log file on the full disk too: the service keeps answering (log lines may be lost, requests are not)', async () => {
    const dataDir = await setUp();
    const phone = newPhone();
    const svc = await start(dataDir, { logOnTmpfs: true });
    await login(svc, phone);
    const filler = tmpfs().fill();
    counts.faultsInjected++;
    dc.controls.injectFloodWait('users.getUsers', 1, 1);
    expect((await call(svc, 'GET', '/api/telegram/me')).status).toBe(429);
    for (let i = 0; i < 20; i++) expect((await call(svc, 'GET', '/api/telegram/status')).status).toBe(200);
    await sleep(1_100);
    expect((await call(svc, 'GET', '/api/telegram/me')).status).toBe(200);
    expect(svc.proc.exitCode).toBeNull();
    fs.rmSync(filler);
    await persistenceCleared(svc);
    expect(await svc.stop()).toBe(0);
  });

  it('read-only data directory while running: refresh and logout served from memory with EROFS reported; after remount rw the retry writes, and the logout is never undone', async () => {
    const dataDir = await setUp();
    const phone = newPhone();
    const first = await start(dataDir);
    await login(first, phone);
    expect(await first.stop()).toBe(0);
    backdateAuthState(dataDir, 3_600_000); // so the next API call refreshes saved_at

    const svc = await start(dataDir);
    tmpfs().remount('ro');
    counts.faultsInjected++;
    const st = await persistenceError(svc, 'EROFS'); // the refresh of saved_at hit the read-only disk
    expect(st).toMatchObject({ state: 'authenticated', persistenceError: { file: accountFile(dataDir, 'auth_state.json') } });
    expect(messages(svc)).toEqual(expect.arrayContaining([LOG_MESSAGES.writeFailed('auth_state.json', 'EROFS')]));
    expect((await call(svc, 'GET', '/api/telegram/me')).status).toBe(200);

    const out = await call(svc, 'POST', '/api/telegram/auth/logout');
    expect(out.status).toBe(200);
    expect((await status(svc)).state).toBe('logged_out');
    expect(fs.existsSync(accountFile(dataDir, 'session.json'))).toBe(true); // could not be removed yet

    tmpfs().remount('rw');
    await persistenceCleared(svc);
    const snap = inspectDataDir(dataDir);
    expect([snap.session.kind, snap.backup.kind, snap.authState.kind]).toEqual(['absent', 'absent', 'absent']);
    await svc.kill9();
    const again = await start(dataDir);
    expect((await status(again)).state).toBe('logged_out');
    expect(await again.stop()).toBe(0);
  });

  it('a start on a read-only data directory exits 1 at once with a clear message, files untouched', async () => {
    const dataDir = await setUp();
    const phone = newPhone();
    const first = await start(dataDir);
    await login(first, phone);
    expect(await first.stop()).toBe(0);
    const before = readIf(accountFile(dataDir, 'session.json'));
    tmpfs().remount('ro');
    counts.faultsInjected++;
    counts.casesTried++;
    const svc = await startService({ dataDir, noWait: true, dc, env: { LOG_FILE: path.join(logDir(), 'ro.log') } });
    running.push(svc);
    expect((await svc.exited).code).toBe(1);
    expect(svc.output().stderr).toMatch(/read-only filesystem \(EROFS\)/);
    tmpfs().remount('rw');
    expect(readIf(accountFile(dataDir, 'session.json'))).toEqual(before);
  });
});
