/**
 * Issue 4 item 6 — one process per data directory, with the real service process. (A second instance
 * next to a running one exits 1 at once naming the holder: test/e2e/http.test.ts covers it.) Here: a lock
 * left by kill -9 is taken over at once and safely, also when several starters race for it; a live holder
 * is never taken over, not even a frozen one; stale locks of a reused pid, another boot, another host or
 * unreadable content are judged as the lock module promises.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { type ServiceProcess, startService, TEST_ENV } from '../helpers/service-process.js';
import { eventually, uniquePhone } from '../helpers/sandbox-service.js';
import { recordTotals, size } from './totals.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const AREA = 'lock (two instances)';
const counts = { casesTried: 0, kills: 0, crashes: 0, sessionsLost: 0, httpRequests: 0 };
const TAKEOVERS = size(10, 50);
const RACES = size(4, 20);

let dc: TestSandbox;
let root: string;
beforeAll(async () => {
  dc = await startTestSandbox();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'lock-'));
});
afterAll(async () => {
  recordTotals(AREA, counts);
  await dc?.dispose();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

let dirCounter = 0;
const newDataDir = () => path.join(root, `d${++dirCounter}`, 'data');
const lockFile = (dataDir: string) => path.join(dataDir, 'service.lock');
const readLock = (dataDir: string) => JSON.parse(fs.readFileSync(lockFile(dataDir), 'utf8')) as Record<string, unknown>;

async function start(dataDir: string): Promise<ServiceProcess> {
  counts.casesTried++;
  return startService({ dc, dataDir, env: TEST_ENV });
}

async function loggedIn(dataDir: string): Promise<ServiceProcess> {
  const phone = uniquePhone('1562');
  dc.controls.createUser({ phone, firstName: 'Lock' });
  const svc = await start(dataDir);
  expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone })).status).toBe(200);
  const done = await svc.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) });
  expect(done.body.state).toBe('authenticated');
  counts.httpRequests += 2;
  return svc;
}

/** Starts without waiting; resolves to 'listening' or the exit code, whichever comes first. */
async function outcome(svc: ServiceProcess): Promise<'listening' | number | null> {
  return eventually(async () => {
    if (svc.logLines().some((l) => l.msg === LOG_MESSAGES.listening)) return 'listening' as const;
    if (svc.proc.exitCode !== null) return svc.proc.exitCode;
    return undefined;
  }, 'a starter to listen or exit', 30_000);
}

function writeLock(dataDir: string, content: Record<string, unknown> | string, ageMs = 0): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(lockFile(dataDir), typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 });
  if (ageMs > 0) {
    const then = new Date(Date.now() - ageMs);
    fs.utimesSync(lockFile(dataDir), then, then);
  }
}

const bootId = () => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

describe('a lock left by kill -9', () => {
  it(`is taken over at once by the next start, which keeps the session (${TAKEOVERS} kills)`, async () => {
    const dataDir = newDataDir();
    let svc = await loggedIn(dataDir);
    for (let i = 0; i < TAKEOVERS; i++) {
      const deadPid = svc.proc.pid!;
      await svc.kill9();
      counts.kills++;
      expect(readLock(dataDir).pid).toBe(deadPid); // the dead holder's lock is still there
      svc = await start(dataDir);
      await svc.waitForLog(`took over the data directory lock of process ${deadPid}`);
      expect(readLock(dataDir).pid).toBe(svc.proc.pid);
      const st = await svc.request('GET', '/api/telegram/status');
      counts.httpRequests++;
      if (st.body.state !== 'authenticated') counts.sessionsLost++;
      expect(st.body.state).toBe('authenticated');
    }
    expect(await svc.stop()).toBe(0);
    expect(fs.existsSync(lockFile(dataDir))).toBe(false); // a clean stop releases it
  });

  it(`three starters racing for a dead holder's lock: exactly one runs, the others exit 1 with a clear message (${RACES} races)`, async () => {
    const dataDir = newDataDir();
    let svc = await loggedIn(dataDir);
    for (let race = 0; race < RACES; race++) {
      await svc.kill9();
      counts.kills++;
      counts.casesTried += 3;
      const starters = await Promise.all(
        [0, 1, 2].map(() => startService({ dataDir, noWait: true, dc, env: TEST_ENV })),
      );
      const results = await Promise.all(starters.map(outcome));
      const winners = starters.filter((_, i) => results[i] === 'listening');
      expect(winners, `race ${race}: ${JSON.stringify(results)}`).toHaveLength(1);
      for (const [i, loser] of starters.entries()) {
        if (results[i] === 'listening') continue;
        expect(results[i]).toBe(1);
        expect(loser.output().stderr).toMatch(/in use by process \d+|being taken over by another starting process|is locked by a process that keeps changing/);
      }
      svc = winners[0]!;
      expect(readLock(dataDir).pid).toBe(svc.proc.pid);
      // The winner is a complete service: it answers (token from the data dir) and kept the session.
      const token = fs.readFileSync(path.join(dataDir, 'api_token'), 'utf8').trim();
      const port = Number(svc.logLines().find((l) => l.msg === LOG_MESSAGES.listening)!.port);
      const res = await fetch(`http://127.0.0.1:${port}/api/telegram/status`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as { state: string };
      counts.httpRequests++;
      if (body.state !== 'authenticated') counts.sessionsLost++;
      expect(body.state).toBe('authenticated');
    }
    await svc.kill9();
  });
});

describe('a live holder is never taken over', () => {
  it('not even a frozen one (SIGSTOP): the second start exits 1 naming it; the holder carries on after SIGCONT', async () => {
    const dataDir = newDataDir();
    const holder = await start(dataDir);
    holder.proc.kill('SIGSTOP');
    try {
      counts.casesTried++;
      const second = await startService({ dataDir, noWait: true, dc, env: TEST_ENV });
      expect((await second.exited).code).toBe(1);
      expect(second.output().stderr).toContain(`in use by process ${holder.proc.pid}`);
    } finally {
      holder.proc.kill('SIGCONT');
    }
    expect((await holder.request('GET', '/api/telegram/status')).status).toBe(200);
    expect(readLock(dataDir).pid).toBe(holder.proc.pid);
    expect(await holder.stop()).toBe(0);
  });
});

describe('stale locks judged by who they name', () => {
  const me = () => ({ hostname: os.hostname(), acquiredAt: new Date().toISOString(), nonce: 'feedfacefeedface', bootId: bootId() });

  it('a pid now used by another live process (its start time differs) → taken over', async () => {
    const dataDir = newDataDir();
    writeLock(dataDir, { ...me(), pid: process.pid, procStartTime: '1' });
    const svc = await start(dataDir);
    await svc.waitForLog(`took over the data directory lock of process ${process.pid}`);
    expect(await svc.stop()).toBe(0);
  });

  it('a live pid from a previous boot → taken over', async () => {
    const dataDir = newDataDir();
    writeLock(dataDir, { ...me(), pid: process.pid, bootId: '00000000-0000-0000-0000-000000000000' });
    const svc = await start(dataDir);
    await svc.waitForLog(`took over the data directory lock of process ${process.pid}`);
    expect(await svc.stop()).toBe(0);
  });

  it('another host sharing the directory: refused while its heartbeat is fresh, taken over once stale', async () => {
    const dataDir = newDataDir();
    writeLock(dataDir, { ...me(), hostname: 'other-host.example', pid: 4242 });
    counts.casesTried++;
    const refused = await startService({ dataDir, noWait: true, dc, env: TEST_ENV });
    expect((await refused.exited).code).toBe(1);
    expect(refused.output().stderr).toContain('in use by process 4242 on other-host.example');

    writeLock(dataDir, { ...me(), hostname: 'other-host.example', pid: 4242 }, 5 * 60_000);
    const svc = await start(dataDir);
    await svc.waitForLog('took over the data directory lock of process 4242 on other-host.example');
    expect(await svc.stop()).toBe(0);
  });

  it('unreadable lock content: refused while young (a starter may be writing it), taken over once old', async () => {
    const dataDir = newDataDir();
    writeLock(dataDir, '{"pid": 12');
    counts.casesTried++;
    const refused = await startService({ dataDir, noWait: true, dc, env: TEST_ENV });
    expect((await refused.exited).code).toBe(1);
    expect(refused.output().stderr).toContain('in use by a process that is starting up');

    writeLock(dataDir, '{"pid": 12', 60_000);
    const svc = await start(dataDir);
    await svc.waitForLog('took over a stale, unreadable data directory lock');
    expect(await svc.stop()).toBe(0);
  });

  it('temp files of starters killed mid-acquire are cleaned up', async () => {
    const dataDir = newDataDir();
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const leftover = path.join(dataDir, 'service.lock.999999.0123abcd');
    fs.writeFileSync(leftover, '{}');
    const svc = await start(dataDir);
    expect(fs.existsSync(leftover)).toBe(false);
    expect(await svc.stop()).toBe(0);
  });
});
