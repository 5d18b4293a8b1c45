/**
 * Issue 4 item 1 — crash safety of the real service process: kill -9 at random moments of login
 * (send-code, resend-code, verify-code, verify-password), restore (start-up), activity refresh and
 * logout; several processes in parallel, each on its own data directory, all on one sandbox DC.
 * After every kill: session.json, session.json.bak and auth_state.json are complete versions (never
 * partial), and the next start reaches what the last completed operation promised. Sessions lost: 0.
 *
 * Size: 200 kills in `npm test`, 1,000 in `npm run test:soak`. CRASH_SEED=<n> repeats a run.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { startService, TEST_ENV } from '../helpers/service-process.js';
import { CrashWorker, type CrashStats, type Moment } from './harness/crash-worker.js';
import { inspectDataDir } from './harness/data-dir.js';
import { seededRandom, sleep, uniquePhone } from '../helpers/sandbox-service.js';
import { recordTotals, size } from './totals.js';
import { accountFile } from '../helpers/layout.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const KILLS = size(200, 1000);
const RESTORE_KILLS = size(30, 150);
const WORKERS = Number(process.env.CRASH_WORKERS ?? 6);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);

let dc: TestSandbox;
let root: string;
beforeAll(async () => {
  dc = await startTestSandbox();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'crash-'));
});
afterAll(async () => {
  await dc?.dispose();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('kill -9 of the real service at random moments', () => {
  it(`${KILLS} kills across login, restore, refresh and logout: files always complete, no session lost`, async () => {
    const started = Date.now();
    const workers = Array.from({ length: WORKERS }, (_, i) => {
      const phone = uniquePhone('1559');
      const password = i % 2 === 1 ? `crash-2fa-${i}-pw` : undefined;
      dc.controls.createUser({ phone, firstName: `Crash${i}`, ...(password ? { password } : {}) });
      return new CrashWorker({
        dc,
        dataDir: path.join(root, `w${i}`, 'data'),
        phone,
        password,
        random: seededRandom(SEED * 31 + i),
        name: `worker ${i}${password ? ' (2FA)' : ''}`,
      });
    });
    const perWorker = Math.ceil(KILLS / WORKERS);
    await Promise.all(workers.map((w) => w.run(perWorker)));

    const total = sum(workers.map((w) => w.stats));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `crash harness (seed ${SEED}): ${total.kills} kills in ${seconds} s over ${WORKERS} processes; ` +
        `${total.afterAnswer} after the answer; by moment ${JSON.stringify(total.byMoment)}; ` +
        `sessions lost ${total.sessionsLost}, 5xx ${total.http5xx}, crashes ${total.crashes}`,
    );
    recordTotals('crash (kill -9)', {
      casesTried: total.cycles,
      kills: total.kills,
      httpRequests: total.httpRequests,
      sessionsLost: total.sessionsLost,
      http5xx: total.http5xx,
      crashes: total.crashes,
    });
    expect(total.problems).toEqual([]);
    expect(total.kills).toBeGreaterThanOrEqual(KILLS);
    expect(total.sessionsLost).toBe(0);
    for (const moment of ['startup', 'send-code', 'verify-code', 'verify-password', 'refresh', 'logout'] as Moment[]) {
      expect(total.byMoment[moment], `kills during ${moment}`).toBeGreaterThan(0);
    }
  }, 600_000);
});

describe('kill -9 during a start that restores session.json from the good copy', () => {
  it(`${RESTORE_KILLS} kills around the restore: session.json is never missing, the good copy never damaged, the session never lost`, async () => {
    const dataDir = path.join(root, 'restore', 'data');
    const phone = uniquePhone('1559');
    dc.controls.createUser({ phone, firstName: 'Restore' });
    const first = await startService({ dataDir, dc, env: TEST_ENV });
    expect((await first.request('POST', '/api/telegram/auth/send-code', { phone })).status).toBe(200);
    expect((await first.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) })).body.state).toBe('authenticated');
    expect(await first.stop()).toBe(0);

    const random = seededRandom(SEED + 7);
    const problems: string[] = [];
    const damage = () => fs.writeFileSync(accountFile(dataDir, 'session.json'), randomBytes(400));
    // When does the restore happen after the spawn? Measured on a start that is not killed.
    damage();
    let spawnedAt = Date.now();
    const probe = await startService({ dataDir, dc, env: TEST_ENV });
    const restoredLine = await probe.waitForLog(LOG_MESSAGES.sessionFromBackup);
    let restoreAtMs = logTime(restoredLine.time) - spawnedAt;
    expect(await probe.stop()).toBe(0);

    let kills = 0;
    for (let i = 0; i < RESTORE_KILLS; i++) {
      if (inspectDataDir(dataDir).session.kind === 'ok') damage();
      // Most kills within ±40 ms of the restore, the rest anywhere in the start.
      const delay = random() < 0.75 ? restoreAtMs + (random() - 0.5) * 80 : random() * 1.5 * restoreAtMs;
      spawnedAt = Date.now();
      const svc = await startService({ dataDir, noWait: true, dc, env: TEST_ENV });
      await sleep(Math.max(0, delay));
      await svc.kill9();
      kills++;
      const line = svc.logLines().find((l) => l.msg === LOG_MESSAGES.sessionFromBackup);
      if (line) restoreAtMs = 0.8 * restoreAtMs + 0.2 * (logTime(line.time) - spawnedAt);
      const snap = inspectDataDir(dataDir);
      if (snap.session.kind === 'absent') problems.push(`kill ${i} (${Math.round(delay)} ms): session.json missing next to the good copy`);
      if (snap.backup.kind !== 'ok') problems.push(`kill ${i}: session.json.bak is ${snap.backup.kind}`);
      if (snap.authState.kind !== 'ok') problems.push(`kill ${i}: auth_state.json is ${snap.authState.kind}`);
    }
    const last = await startService({ dataDir, dc, env: TEST_ENV });
    try {
      const status = await last.request('GET', '/api/telegram/status');
      const lost = status.body.state === 'authenticated' ? 0 : 1;
      console.log(`restore under kill -9: ${kills} kills, restore at ~${Math.round(restoreAtMs)} ms after spawn; sessions lost ${lost}`);
      recordTotals('crash (kill -9 during restore)', { casesTried: kills, kills, sessionsLost: lost, httpRequests: 1 });
      expect(problems).toEqual([]);
      expect(status.body).toMatchObject({ state: 'authenticated' });
      await last.waitForLog(LOG_MESSAGES.sessionRestored);
    } finally {
      expect(await last.stop()).toBe(0);
    }
  }, 300_000);
});

/** pino's `time` (epoch ms, or an ISO string with a custom timestamp). */
function logTime(time: unknown): number {
  return typeof time === 'number' ? time : Date.parse(String(time));
}

function sum(all: CrashStats[]): CrashStats {
  const total: CrashStats = {
    cycles: 0, kills: 0, httpRequests: 0, afterAnswer: 0, sessionsLost: 0, http5xx: 0, crashes: 0,
    byMoment: { startup: 0, 'send-code': 0, 'resend-code': 0, 'verify-code': 0, 'verify-password': 0, refresh: 0, me: 0, logout: 0 },
    problems: [],
  };
  for (const s of all) {
    for (const k of ['cycles', 'kills', 'httpRequests', 'afterAnswer', 'sessionsLost', 'http5xx', 'crashes'] as const) total[k] += s[k];
    for (const m of Object.keys(total.byMoment) as Moment[]) total.byMoment[m] += s.byMoment[m];
    total.problems.push(...s.problems);
  }
  return total;
}
