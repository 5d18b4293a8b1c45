/**
 * Issue 9 — kill -9 and the accounts' own files:
 * 1. a data directory of the single-account version (files at its root) becomes the account `default`,
 *    logged in, with nothing to run — and the move survives kill -9 at every one of its steps;
 * 2. kill -9 at random moments while accounts are created and deleted and tokens issued and revoked:
 *    nothing that was answered is lost, every account comes back, the store is never damaged.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { accountDir } from '../helpers/layout.js';
import { loginThrough, seededRandom, sleep, uniquePhone, waitForStatus } from '../helpers/sandbox-service.js';
import { REPO_ROOT, type ServiceProcess, startService, TEST_ENV } from '../helpers/service-process.js';
import { recordTotals, size } from './totals.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const MIGRATION_STEPS = ['staging-created', 'linked', 'renamed', 'unlinked'] as const;
const CYCLES = size(20, 100);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
const AREA = 'accounts: migration and registry under kill -9';
const counts = { casesTried: 0, kills: 0, httpRequests: 0, sessionsLost: 0, http5xx: 0, crashes: 0 };

let dc: TestSandbox;
let root: string;
beforeAll(async () => {
  dc = await startTestSandbox();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'accounts-crash-'));
});
afterAll(async () => {
  recordTotals(AREA, counts);
  await dc?.dispose();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

const start = (dataDir: string): Promise<ServiceProcess> => startService({ dc, dataDir, env: TEST_ENV });

/** Runs the migration in its own process (the built module) and SIGKILLs it right after `step`. */
async function migrateAndKillAt(dataDir: string, step: string): Promise<void> {
  const module = path.join(REPO_ROOT, 'dist', 'store', 'files', 'legacy-layout.js');
  const script = `
    const { migrateLegacyLayout } = await import(${JSON.stringify(module)});
    const fs = await import('node:fs');
    const accounts = ${JSON.stringify(path.join(dataDir, 'accounts'))};
    fs.mkdirSync(accounts, { recursive: true, mode: 0o700 });
    const noop = () => {};
    await migrateLegacyLayout(${JSON.stringify(dataDir)}, accounts, {
      log: { info: noop, warn: noop, error: noop, debug: noop },
      onStep: (s) => { if (s === ${JSON.stringify(step)}) process.kill(process.pid, 'SIGKILL'); },
    });
    process.exit(3); // never reached: the step was not taken
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
  expect(signal, `killed at ${step}`).toBe('SIGKILL');
  counts.kills++;
}

describe('the single-account data directory becomes the account default', () => {
  it('with its login intact, nothing to run — and kill -9 at every step of the move loses nothing', { timeout: 180_000 }, async () => {
    // A logged-in data directory as the single-account version left it: its files at the root.
    const template = path.join(root, 'template');
    const phone = uniquePhone('1561');
    dc.controls.createUser({ phone });
    const first = await start(template);
    await loginThrough(first, dc, phone);
    expect(await first.stop()).toBe(0);
    const defaultDir = accountDir(template);
    for (const name of fs.readdirSync(defaultDir)) fs.renameSync(path.join(defaultDir, name), path.join(template, name));
    fs.rmSync(path.join(template, 'accounts'), { recursive: true });
    const legacyNames = fs.readdirSync(template).filter((n) => n.startsWith('session.json') || n === 'auth_state.json').sort();
    expect(legacyNames).toEqual(['auth_state.json', 'session.json', 'session.json.bak']);
    const originals = new Map(legacyNames.map((n) => [n, fs.readFileSync(path.join(template, n))]));
    const keys = dc.controls.authKeysOfUser(phone).length;

    for (const killAt of [null, ...MIGRATION_STEPS]) {
      counts.casesTried++;
      const dataDir = path.join(root, `migrate-${killAt ?? 'clean'}`);
      fs.cpSync(template, dataDir, { recursive: true });
      if (killAt) await migrateAndKillAt(dataDir, killAt);
      const svc = await start(dataDir);
      const restored = await waitForStatus(svc, (b) => b.session.validation === 'valid', `valid after a kill at ${killAt}`);
      expect(restored).toMatchObject({ state: 'authenticated', session: { restored: true }, user: { id: expect.any(Number) } });
      await svc.waitForLog(LOG_MESSAGES.sessionRestored);
      // Moved, byte for byte, and nothing left at the root.
      for (const [name, bytes] of [...originals].filter(([file]) => file !== 'session.json.bak')) {
        expect(fs.readFileSync(path.join(accountDir(dataDir), name)).equals(bytes), name).toBe(true);
      }
      expect(fs.readdirSync(dataDir).filter((n) => n.startsWith('session.json') || n.startsWith('auth_state'))).toEqual([]);
      expect(fs.readdirSync(path.join(dataDir, 'accounts')).sort()).toEqual(['default']);
      expect((await svc.request('GET', '/api/accounts/default')).body.state).toBe('authenticated');
      expect(await svc.stop()).toBe(0);
      counts.httpRequests += 2;
    }
    expect(dc.controls.authKeysOfUser(phone).length, 'no new login anywhere').toBe(keys);
  });
});

describe('kill -9 while accounts and tokens change', () => {
  it(`${CYCLES} kills at random moments: every answered create, delete, issue and revoke holds after the restart`, { timeout: 300_000 }, async () => {
    const random = seededRandom(SEED);
    console.log(`accounts crash harness: seed ${SEED}`);
    const dataDir = path.join(root, 'registry');
    /** What the service answered, hence must hold: accounts that exist, tokens that work or not. */
    const exists = new Set<string>();
    const deleted = new Set<string>();
    const live = new Map<string, string>(); // token → account
    const revoked = new Map<string, string>();
    let n = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const svc = await start(dataDir);
      await checkModel(svc);
      const ops: Promise<unknown>[] = [];
      /** A request the kill may cut: no answer (status 0) means its outcome is unknown. */
      const request = async (method: string, route: string, body?: unknown) => {
        counts.httpRequests++;
        const res = await svc.request(method, route, body).catch(() => ({ status: 0, headers: {}, body: undefined }));
        if (res.status >= 500) counts.http5xx++;
        return res;
      };
      for (let i = 0; i < 6; i++) {
        const choice = random();
        const existing = [...exists];
        if (choice < 0.4 || existing.length < 2) {
          const id = `acct-${n++}`;
          ops.push(request('POST', '/api/accounts', { id }).then((res) => res.status === 201 && exists.add(id)));
        } else if (choice < 0.55) {
          const id = existing[Math.floor(random() * existing.length)]!;
          exists.delete(id); // unknown until answered: checked neither way meanwhile
          // Answered 204: gone; answered otherwise: still there; cut by the kill: either (checked neither way).
          ops.push(request('DELETE', `/api/accounts/${id}`).then((res) => (res.status === 204 ? deleted.add(id) : res.status > 0 && exists.add(id))));
        } else if (choice < 0.85) {
          const id = existing[Math.floor(random() * existing.length)]!;
          ops.push(request('POST', `/api/accounts/${id}/tokens`).then((res) => res.status === 201 && live.set(res.body.token, id)));
        } else if (live.size > 0) {
          const [token, id] = [...live][Math.floor(random() * live.size)]!;
          live.delete(token);
          const tokenId = token.slice(4, 20);
          ops.push(
            request('DELETE', `/api/accounts/${id}/tokens/${tokenId}`).then((res) =>
              res.status === 204 ? revoked.set(token, id) : res.status > 0 && live.set(token, id),
            ),
          );
        }
      }
      await sleep(Math.floor(random() * 40));
      await svc.kill9();
      counts.kills++;
      counts.casesTried++;
      await Promise.allSettled(ops);
    }
    const last = await start(dataDir);
    await checkModel(last);
    expect(await last.stop()).toBe(0);

    async function checkModel(svc: ServiceProcess): Promise<void> {
      const listed = new Set<string>();
      let cursor: string | null = null;
      do {
        const page = await svc.request('GET', `/api/accounts?limit=50${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.status).toBe(200);
        for (const account of page.body.accounts) listed.add(account.id);
        cursor = page.body.nextCursor;
      } while (cursor);
      for (const id of exists) expect(listed.has(id), `answered create of ${id} survives`).toBe(true);
      for (const id of [...deleted].filter((d) => !exists.has(d))) expect(listed.has(id), `answered delete of ${id} holds`).toBe(false);
      // A token whose account's delete was in flight may work or not: either way is right.
      for (const [token, id] of [...live].filter(([, account]) => exists.has(account))) {
        const res = await svc.request('GET', `/api/accounts/${id}/status`, undefined, { token });
        expect(res.status, `answered token of ${id} works`).toBe(200);
      }
      for (const [token, id] of revoked) {
        const res = await svc.request('GET', `/api/accounts/${id}/status`, undefined, { token });
        expect(res.status, `answered revocation of a token of ${id} holds`).toBe(401);
      }
      counts.httpRequests += live.size + revoked.size + 1;
      // No half-removed account left behind.
      expect(fs.readdirSync(path.join(dataDir, 'accounts')).filter((n) => n.startsWith('.'))).toEqual([]);
    }
  });
});
