/**
 * Issue 4 item 2 — corrupt and hostile files, through the real service process: a logged-in data
 * directory (made once by a real login) is copied for each case, damaged, and the service started on it.
 * Every case: the process starts (never crashes), the state is the expected one, the log says clearly
 * what happened, a damaged file is moved aside (never deleted, never read through a link), and the
 * session comes back from the last-known-good copy where one is usable.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionStore } from '../../src/store/files/account-files.js';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { type ServiceProcess, startService, TEST_ENV } from '../helpers/service-process.js';
import { inspectDataDir } from './harness/data-dir.js';
import { giveToServiceUser, makeSharedRoot, RUNNING_AS_ROOT, SERVICE_USER } from './harness/run-as-user.js';
import { eventually, uniquePhone } from '../helpers/sandbox-service.js';
import { recordTotals } from './totals.js';
import { accountDir, accountFile } from '../helpers/layout.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

let dc: TestSandbox;
let root: string;
let template: string;
let phone: string;
let userId: number;

const AREA = 'files (corrupt and hostile)';
const counts = { casesTried: 0, crashes: 0, sessionsLost: 0, http5xx: 0, httpRequests: 0 };

beforeAll(async () => {
  dc = await startTestSandbox();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'files-'));
  template = path.join(root, 'template');
  phone = uniquePhone('1560');
  dc.controls.createUser({ phone, firstName: 'Files' });
  const svc = await startService({ dc, dataDir: template, env: TEST_ENV });
  expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone })).status).toBe(200);
  const done = await svc.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) });
  expect(done.body.state).toBe('authenticated');
  userId = done.body.user.id;
  expect(await svc.stop()).toBe(0);
  for (const name of ['session.json', 'session.json.bak', 'auth_state.json']) {
    expect(fs.existsSync(accountFile(template, name)), name).toBe(true);
  }
  fs.rmSync(path.join(template, 'telegram_service.log'));
});

afterAll(async () => {
  recordTotals(AREA, counts);
  await dc?.dispose();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

let caseCounter = 0;
/** A fresh copy of the logged-in data directory. */
function copyOfTemplate(): string {
  const dir = path.join(root, `case-${++caseCounter}`, 'data');
  fs.cpSync(template, dir, { recursive: true });
  return dir;
}

/** The default account's file in the data directory `dir`. */
const file = (dir: string, name: string) => accountFile(dir, name);
const read = (dir: string, name: string) => fs.readFileSync(file(dir, name));
const modeOf = (p: string) => fs.lstatSync(p).mode & 0o777;
const namesIn = (dir: string) => fs.readdirSync(accountDir(dir));
const movedAside = (dir: string, name: string) => namesIn(dir).filter((n) => n.startsWith(`${name}.corrupt-`));
const messages = (svc: ServiceProcess) => svc.logLines().map((l) => String(l.msg ?? ''));

async function start(dir: string): Promise<ServiceProcess> {
  counts.casesTried++;
  try {
    return await startService({ dc, dataDir: dir, env: TEST_ENV });
  } catch (err) {
    counts.crashes++;
    throw err;
  }
}

async function status(svc: ServiceProcess) {
  counts.httpRequests++;
  const res = await svc.request('GET', '/api/telegram/status');
  if (res.status >= 500) counts.http5xx++;
  expect(res.status).toBe(200);
  return res.body;
}

/** The session came back: authenticated at once, then validated by the DC. */
async function expectSessionBack(svc: ServiceProcess): Promise<void> {
  const first = await status(svc);
  if (first.state !== 'authenticated') counts.sessionsLost++;
  expect(first).toMatchObject({ state: 'authenticated', user: { id: userId } });
  await eventually(async () => ((await status(svc)).session.validation === 'valid' ? true : undefined), 'validation valid');
  await svc.waitForLog(LOG_MESSAGES.sessionRestored);
}

async function stopCleanly(svc: ServiceProcess): Promise<void> {
  expect(await svc.stop()).toBe(0);
}

/** A regular, valid, 0600 session.json holding the template's key. */
function expectGoodSessionFile(dir: string): void {
  const session = goodSession(dir);
  expect(session.mode).toBe(0o600);
  expect(session.value.authKeys).toEqual(goodSession(template).value.authKeys);
}

/** session.json of `dir`, which must be a valid session document. */
function goodSession(dir: string) {
  const { session } = inspectDataDir(dir);
  if (session.kind !== 'ok') throw new Error(`${dir}: session.json is ${session.kind}, not a valid session document`);
  return session;
}

function validSessionJson(): Record<string, unknown> {
  return JSON.parse(read(template, 'session.json').toString('utf8')) as Record<string, unknown>;
}

describe('a damaged session.json: moved aside, the session restored from session.json.bak', () => {
  const cases: Array<[string, (dir: string) => void, RegExp]> = [
    ['empty', (dir) => fs.writeFileSync(file(dir, 'session.json'), ''), /is empty; moved aside to session\.json\.corrupt-/],
    [
      'truncated',
      (dir) => fs.writeFileSync(file(dir, 'session.json'), read(dir, 'session.json').subarray(0, 300)),
      /is not valid JSON \(truncated or damaged\); moved aside/,
    ],
    ['garbage bytes', (dir) => fs.writeFileSync(file(dir, 'session.json'), randomBytes(700)), /is not valid JSON/],
    ['valid JSON of the wrong shape', (dir) => fs.writeFileSync(file(dir, 'session.json'), '{"hello":"world"}'), /does not have the shape of a session document/],
    ['a JSON array', (dir) => fs.writeFileSync(file(dir, 'session.json'), '[1,2,3]'), /is not a JSON object/],
    [
      'an unknown version',
      (dir) => fs.writeFileSync(file(dir, 'session.json'), JSON.stringify({ ...validSessionJson(), version: 99 })),
      /has version 99; this build reads version 1/,
    ],
    [
      'an auth key that is not a key',
      (dir) => {
        const doc = validSessionJson();
        fs.writeFileSync(file(dir, 'session.json'), JSON.stringify({ ...doc, authKeys: { 2: Buffer.from('short').toString('base64') } }));
      },
      /the auth key of DC 2 is 5 bytes/,
    ],
    [
      'a huge file (3 MiB)',
      (dir) => fs.writeFileSync(file(dir, 'session.json'), Buffer.alloc(3 * 1024 * 1024, 0x20)),
      /is 3145728 bytes \(limit 1048576\)/,
    ],
    [
      'a directory where the file should be (unreadable as a file)',
      (dir) => {
        fs.rmSync(file(dir, 'session.json'));
        fs.mkdirSync(file(dir, 'session.json'));
        fs.writeFileSync(path.join(file(dir, 'session.json'), 'inside'), 'x');
      },
      /is not a regular file; moved aside/,
    ],
    [
      'a FIFO (reading it would block start-up)',
      (dir) => {
        fs.rmSync(file(dir, 'session.json'));
        execFileSync('mkfifo', [file(dir, 'session.json')]);
      },
      /is not a regular file; moved aside/,
    ],
  ];

  for (const [name, damage, logLine] of cases) {
    it(name, async () => {
      const dir = copyOfTemplate();
      damage(dir);
      const svc = await start(dir);
      try {
        await expectSessionBack(svc);
        expect(messages(svc)).toEqual(expect.arrayContaining([expect.stringMatching(logLine)]));
        expect(messages(svc)).toContain(LOG_MESSAGES.sessionFromBackup);
        expect(movedAside(dir, 'session.json')).toHaveLength(1);
        expectGoodSessionFile(dir);
      } finally {
        await stopCleanly(svc);
      }
    });
  }

  it('a symlink: never read through; the link is moved aside, its target untouched', async () => {
    const dir = copyOfTemplate();
    // The link points at a valid session file elsewhere: following it would let whoever owns the link pick our keys.
    const elsewhere = path.join(root, `elsewhere-${caseCounter}.json`);
    fs.copyFileSync(file(dir, 'session.json'), elsewhere);
    const targetBefore = fs.readFileSync(elsewhere);
    fs.rmSync(file(dir, 'session.json'));
    fs.symlinkSync(elsewhere, file(dir, 'session.json'));
    const svc = await start(dir);
    try {
      await expectSessionBack(svc);
      expect(messages(svc)).toEqual(expect.arrayContaining([expect.stringMatching(/session\.json is a symlink; moved aside/)]));
      const [aside] = movedAside(dir, 'session.json');
      expect(fs.lstatSync(file(dir, aside!)).isSymbolicLink()).toBe(true);
      expect(fs.lstatSync(file(dir, 'session.json')).isFile()).toBe(true);
      expect(fs.readFileSync(elsewhere)).toEqual(targetBefore);
      expectGoodSessionFile(dir);
    } finally {
      await stopCleanly(svc);
    }
  });
});

describe('no usable copy, or a file missing: starts logged out, never crashes', () => {
  it('session.json and session.json.bak both damaged → logged out (SESSION_FILE_MISSING), both moved aside', async () => {
    const dir = copyOfTemplate();
    fs.writeFileSync(file(dir, 'session.json'), randomBytes(300));
    fs.writeFileSync(file(dir, 'session.json.bak'), read(dir, 'session.json.bak').subarray(0, 100));
    const svc = await start(dir);
    try {
      expect(await status(svc)).toMatchObject({ state: 'logged_out', reason: 'SESSION_FILE_MISSING' });
      expect(messages(svc)).toContain(LOG_MESSAGES.noUsableSession);
      expect(movedAside(dir, 'session.json')).toHaveLength(1);
      expect(movedAside(dir, 'session.json.bak')).toHaveLength(1);
      // auth_state.json without the keys it describes cannot be restored: removed, as the log says.
      expect(messages(svc)).toContain(LOG_MESSAGES.authStateWithoutSession);
      expect(fs.existsSync(file(dir, 'auth_state.json'))).toBe(false);
    } finally {
      await stopCleanly(svc);
    }
  });

  it('session.json missing (deleted): logged out; the good copy never resurrects a deleted session', async () => {
    const dir = copyOfTemplate();
    fs.rmSync(file(dir, 'session.json'));
    const svc = await start(dir);
    try {
      expect(await status(svc)).toMatchObject({ state: 'logged_out', reason: 'SESSION_FILE_MISSING' });
      expect(messages(svc)).not.toContain(LOG_MESSAGES.sessionFromBackup);
      expect(fs.existsSync(file(dir, 'session.json'))).toBe(false);
    } finally {
      await stopCleanly(svc);
    }
  });

  it('auth_state.json missing: logged out, session.json left as it was (its key is reused by the next login)', async () => {
    const dir = copyOfTemplate();
    fs.rmSync(file(dir, 'auth_state.json'));
    const before = read(dir, 'session.json');
    const svc = await start(dir);
    try {
      expect((await status(svc)).state).toBe('logged_out');
      expect(read(dir, 'session.json')).toEqual(before);
    } finally {
      await stopCleanly(svc);
    }
  });

  const authCases: Array<[string, (dir: string) => void, RegExp]> = [
    ['empty', (dir) => fs.writeFileSync(file(dir, 'auth_state.json'), ''), /auth_state\.json is empty; moved aside/],
    ['garbage', (dir) => fs.writeFileSync(file(dir, 'auth_state.json'), randomBytes(64)), /auth_state\.json is not valid JSON/],
    [
      'an unknown version',
      (dir) => {
        const state = JSON.parse(read(dir, 'auth_state.json').toString('utf8')) as Record<string, unknown>;
        fs.writeFileSync(file(dir, 'auth_state.json'), JSON.stringify({ ...state, version: '2.0' }));
      },
      /has version "2\.0"; expected "1\.0"/,
    ],
    ['valid JSON of the wrong shape', (dir) => fs.writeFileSync(file(dir, 'auth_state.json'), '{"user_auth":"yes"}'), /does not have the shape of an auth state/],
    ['huge', (dir) => fs.writeFileSync(file(dir, 'auth_state.json'), Buffer.alloc(200_000, 0x20)), /is 200000 bytes \(limit 65536\)/],
    [
      'a symlink',
      (dir) => {
        const elsewhere = path.join(root, `auth-elsewhere-${caseCounter}.json`);
        fs.renameSync(file(dir, 'auth_state.json'), elsewhere);
        fs.symlinkSync(elsewhere, file(dir, 'auth_state.json'));
      },
      /auth_state\.json is a symlink; moved aside/,
    ],
  ];
  for (const [name, damage, logLine] of authCases) {
    it(`auth_state.json ${name}: moved aside, logged out, session.json untouched`, async () => {
      const dir = copyOfTemplate();
      damage(dir);
      const before = read(dir, 'session.json');
      const svc = await start(dir);
      try {
        expect((await status(svc)).state).toBe('logged_out');
        expect(messages(svc)).toEqual(expect.arrayContaining([expect.stringMatching(logLine)]));
        expect(movedAside(dir, 'auth_state.json')).toHaveLength(1);
        expect(read(dir, 'session.json')).toEqual(before);
      } finally {
        await stopCleanly(svc);
      }
    });
  }
});

describe('modes, leftovers, another environment, unreadable files', () => {
  it('group/world-readable files and directory: fixed to 0600 / 0700 with a warning each; still logged in', async () => {
    const dir = copyOfTemplate();
    fs.chmodSync(file(dir, 'session.json'), 0o644);
    fs.chmodSync(file(dir, 'session.json.bak'), 0o644);
    fs.chmodSync(file(dir, 'auth_state.json'), 0o666);
    fs.chmodSync(dir, 0o755);
    const svc = await start(dir);
    try {
      await expectSessionBack(svc);
      const log = messages(svc);
      expect(log).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/session\.json had mode 0644; fixed to 0600$/),
          expect.stringMatching(/session\.json\.bak had mode 0644; fixed to 0600$/),
          expect.stringMatching(/auth_state\.json had mode 0666; fixed to 0600$/),
        ]),
      );
      for (const name of ['session.json', 'session.json.bak', 'auth_state.json']) expect(modeOf(file(dir, name)), name).toBe(0o600);
      expect(modeOf(dir)).toBe(0o700);
      expect(modeOf(accountDir(dir))).toBe(0o700);
    } finally {
      await stopCleanly(svc);
    }
  });

  it('temp files of an interrupted write are removed at start; the session is intact', async () => {
    const dir = copyOfTemplate();
    fs.writeFileSync(file(dir, '.session.json.tmp-4242-abcdef'), '{"partial');
    fs.writeFileSync(file(dir, '.auth_state.json.tmp-4242-abcdef'), '');
    const svc = await start(dir);
    try {
      await expectSessionBack(svc);
      expect(namesIn(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
      expect(messages(svc)).toContain(LOG_MESSAGES.tempFilesRemoved);
    } finally {
      await stopCleanly(svc);
    }
  });

  it("session.json of another environment: starts logged out saying why, touching nothing; a login here moves the other environment's files aside", async () => {
    const dir = copyOfTemplate();
    for (const name of ['session.json', 'session.json.bak']) {
      const doc = JSON.parse(read(dir, name).toString('utf8')) as Record<string, unknown>;
      fs.writeFileSync(file(dir, name), JSON.stringify({ ...doc, environment: 'production' }, null, 2), { mode: 0o600 });
    }
    // The template's future auth token would log this number in without a code; this test wants the code step.
    fs.rmSync(file(dir, 'future_auth_tokens.json'), { force: true });
    const before = Object.fromEntries(['session.json', 'session.json.bak', 'auth_state.json'].map((n) => [n, read(dir, n)]));
    const svc = await start(dir);
    try {
      const st = await status(svc);
      expect(st).toMatchObject({ state: 'logged_out', reason: 'SESSION_OF_OTHER_ENVIRONMENT' });
      expect(messages(svc)).toEqual(
        expect.arrayContaining([expect.stringMatching(/belongs to the production environment but the service runs in sandbox.*leaving it untouched/)]),
      );
      for (const [name, bytes] of Object.entries(before)) expect(read(dir, name), name).toEqual(bytes);
      expect(namesIn(dir).filter((n) => n.includes('.corrupt-'))).toEqual([]);

      // A login in this environment keeps the other one's files, renamed.
      expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone })).status).toBe(200);
      const done = await svc.request('POST', '/api/telegram/auth/verify-code', { code: dc.controls.lastCode(phone) });
      expect(done.body.state).toBe('authenticated');
      for (const [name, bytes] of Object.entries(before)) {
        const aside = namesIn(dir).find((n) => n.startsWith(`${name}.other-environment-`));
        expect(aside, `${name} moved aside`).toBeDefined();
        expect(read(dir, aside!), name).toEqual(bytes);
      }
      expect(inspectDataDir(dir).session.kind).toBe('ok');
    } finally {
      await stopCleanly(svc);
    }
  });

  it(`an unreadable session.json (EACCES for the service's user${RUNNING_AS_ROOT ? ': root ignores modes, so the service runs as nobody' : ''}): moved aside, restored from the good copy`, async () => {
    const shared = makeSharedRoot();
    try {
      const dir = path.join(shared, 'data');
      fs.cpSync(template, dir, { recursive: true });
      fs.rmSync(file(dir, 'api_token'), { force: true });
      giveToServiceUser(shared);
      fs.chmodSync(file(dir, 'session.json'), 0o000);
      counts.casesTried++;
      const svc = await startService({ dc, dataDir: dir, user: SERVICE_USER });
      try {
        const st = await svc.request('GET', '/api/telegram/status');
        expect(st.body).toMatchObject({ state: 'authenticated', user: { id: userId } });
        expect(messages(svc)).toEqual(
          expect.arrayContaining([
            expect.stringMatching(/session\.json cannot be opened \(EACCES\); moved aside to session\.json\.corrupt-/),
            LOG_MESSAGES.sessionFromBackup,
          ]),
        );
      } finally {
        expect(await svc.stop()).toBe(0);
      }
      expect(movedAside(dir, 'session.json')).toHaveLength(1);
      expectGoodSessionFile(dir);
    } finally {
      fs.rmSync(shared, { recursive: true, force: true });
    }
  });

  it('DATA_DIR is a regular file: exits non-zero at once with a clear message', async () => {
    const notADir = path.join(root, `not-a-dir-${++caseCounter}`);
    fs.writeFileSync(notADir, 'x');
    counts.casesTried++;
    const svc = await startService({ dataDir: notADir, noWait: true, dc, env: { LOG_FILE: path.join(root, `nd-${caseCounter}.log`) } });
    const { code } = await svc.exited;
    expect(code).not.toBe(0);
    expect(svc.output().stderr).toMatch(new RegExp(`${notADir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*not a directory|not a directory.*${path.basename(notADir)}`));
    expect(fs.readFileSync(notADir, 'utf8')).toBe('x');
  });
});

describe('keys as mtcute makes them', () => {
  it('a 255-byte auth key (a DH result with a leading zero byte: 1 key exchange in 256) is saved and loaded back byte for byte', async () => {
    const dir = path.join(root, `short-key-${++caseCounter}`);
    const key = new Uint8Array(randomBytes(255));
    const quiet = { info() {}, warn() {}, error() {}, debug() {} };
    const writer = createSessionStore({ dataDir: dir, environment: 'sandbox', log: quiet });
    await writer.load();
    await (await writer.createStorage()).authKeys.set(2, key);
    await writer.close();
    const errors: string[] = [];
    const reader = createSessionStore({ dataDir: dir, environment: 'sandbox', log: { ...quiet, error: (_o: object, m: string) => void errors.push(m) } });
    await reader.load();
    counts.casesTried++;
    expect(errors).toEqual([]);
    expect(reader.hasSession()).toBe(true);
    expect((await reader.createStorage()).authKeys.get(2)).toEqual(key);
    expect(fs.readdirSync(dir).filter((n) => n.includes('.corrupt-'))).toEqual([]);
    await reader.close();
  });
});
