/**
 * Issue 4, item 8 — encryption at rest of session.json (SESSION_ENCRYPTION_KEY, AES-256-GCM), end to end
 * through the real service process and a sandbox DC over TCP:
 * - the file on disk (and its good copy) is an envelope holding neither the auth key nor the encryption
 *   key, in any encoding; decrypting it with the key gives the session;
 * - a restart with the same key restores the session without a new login;
 * - a wrong key, or no key, is a clear start-up error that overwrites nothing (bytes identical);
 * - a malformed key is a configuration error that does not echo the value.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptEnvelope } from '../../src/store/session-crypto.js';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { type ServiceProcess, startService, TEST_ENV } from '../helpers/service-process.js';
import { recordTotals } from './totals.js';
import { accountFile } from '../helpers/layout.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const PHONE = '+9996621234';
const CODE = '22222';

let dc: TestSandbox;
const counts = { casesTried: 0, httpRequests: 0, http5xx: 0, crashes: 0, secretLeaks: 0 };

beforeAll(async () => {
  dc = await startTestSandbox();
});
afterAll(async () => {
  recordTotals('security: encryption at rest', counts);
  await dc?.dispose();
});

function start(dataDir: string | undefined, key: string | undefined, noWait = false): Promise<ServiceProcess> {
  return startService({
    ...(dataDir ? { dataDir } : {}),
    dc,
    env: { ...TEST_ENV, SESSION_ENCRYPTION_KEY: key, CLIENT_READY_TIMEOUT: '15s' },
    ...(noWait ? { noWait: true } : {}),
  });
}

async function request(svc: ServiceProcess, method: string, route: string, body?: unknown) {
  counts.httpRequests += 1;
  const res = await svc.request(method, route, body);
  if (res.status >= 500) counts.http5xx += 1;
  return res;
}

/** Every text form a secret may take in a file. */
function encodings(bytes: Buffer): string[] {
  return [bytes.toString('hex'), bytes.toString('hex').toUpperCase(), bytes.toString('base64'), bytes.toString('base64url')];
}

/** The bytes of every file in the data directory except the log (which a start appends to). */
function snapshot(dataDir: string, logFile: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && full !== logFile) out.set(path.relative(dataDir, full), fs.readFileSync(full).toString('base64'));
    }
  };
  walk(dataDir);
  return out;
}

describe('SESSION_ENCRYPTION_KEY end to end', () => {
  const key = randomBytes(32);
  const keyHex = key.toString('hex');
  let dataDir: string;
  let logFile: string;
  let userId: number;
  let authKey: Buffer;

  it('session.json and its good copy are envelopes without the auth key or the encryption key in any form', async () => {
    counts.casesTried += 1;
    const svc = await start(undefined, keyHex);
    dataDir = svc.dataDir;
    logFile = svc.logFile;
    try {
      expect((await request(svc, 'POST', '/api/telegram/auth/send-code', { phone: PHONE })).status).toBe(200);
      const done = await request(svc, 'POST', '/api/telegram/auth/verify-code', { code: CODE });
      expect(done.status).toBe(200);
      userId = done.body.user.id;
    } finally {
      expect(await svc.stop()).toBe(0);
    }

    for (const name of ['session.json', 'session.json.bak']) {
      const file = accountFile(dataDir, name);
      const text = fs.readFileSync(file, 'utf8');
      const envelope = JSON.parse(text);
      expect(Object.keys(envelope).sort()).toEqual(['encrypted', 'version']);
      expect(Object.keys(envelope.encrypted).sort()).toEqual(['alg', 'data', 'iv', 'tag']);
      expect(envelope.encrypted.alg).toBe('aes-256-gcm');
      // The plaintext document, through the product's own decryption with the right key.
      const doc = JSON.parse(decryptEnvelope(file, envelope, key));
      const keys = Object.values(doc.authKeys as Record<string, string>);
      expect(keys.length).toBeGreaterThan(0);
      authKey = Buffer.from(keys[0]!, 'base64');
      expect(authKey.length).toBe(256);
      for (const secret of [...encodings(key), ...encodings(authKey), ...encodings(authKey.subarray(0, 32))]) {
        expect(text.includes(secret), `${name} holds key material`).toBe(false);
      }
      for (const plain of ['authKeys', 'primaryDc', 'self', 'pendingLogin', PHONE, String(userId)]) {
        expect(text.includes(plain), `${name} shows ${plain} in clear`).toBe(false);
      }
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    }
    // Nothing else in the data directory, nor the log, holds the encryption key.
    const everything = [...snapshot(dataDir, logFile).values()].map((b64) => Buffer.from(b64, 'base64').toString('latin1')).join('\n');
    const log = fs.readFileSync(logFile, 'utf8');
    for (const secret of encodings(key)) {
      expect(everything.includes(secret)).toBe(false);
      expect(log.includes(secret)).toBe(false);
    }
  });

  it('a restart with the same key restores the session without a new login', async () => {
    counts.casesTried += 1;
    const keysAtDc = dc.controls.authKeysOfUser(PHONE).map((k) => k.authKeyId);
    const svc = await start(dataDir, keyHex);
    try {
      await svc.waitForLog(LOG_MESSAGES.sessionRestored, 20_000);
      const status = await request(svc, 'GET', '/api/telegram/status');
      expect(status.body).toMatchObject({ state: 'authenticated', user: { id: userId }, session: { restored: true, validation: 'valid' } });
    } finally {
      expect(await svc.stop()).toBe(0);
    }
    expect(dc.controls.authKeysOfUser(PHONE).map((k) => k.authKeyId)).toEqual(keysAtDc);
  });

  /** A copy of the logged-in data directory, so each case starts from the same files. */
  function copyOfDataDir(): string {
    const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tgsvc-enc-')), 'data');
    fs.cpSync(dataDir, copy, { recursive: true });
    fs.chmodSync(copy, 0o700);
    copies.push(path.dirname(copy));
    return copy;
  }
  const copies: string[] = [];
  afterAll(() => {
    for (const dir of copies) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Starts on `dir` with a key that cannot read its session.json; checks the refusal and that nothing changed. */
  async function expectRefusal(dir: string, variant: 'a wrong key' | 'no key'): Promise<void> {
    counts.casesTried += 1;
    const dirLog = path.join(dir, path.basename(logFile));
    const before = snapshot(dir, dirLog);
    const wrongKey = randomBytes(32).toString('hex');
    const svc = await start(dir, variant === 'a wrong key' ? wrongKey : undefined, true);
    const exit = await Promise.race([
      svc.exited,
      new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 20_000)),
    ]);
    if (exit === 'still running') await svc.kill9();
    expect(exit, 'the service refuses to run on a session it cannot read').not.toBe('still running');
    if (exit !== 'still running') {
      expect(exit.code).not.toBe(0);
      if (exit.signal) counts.crashes += 1;
    }
    const { stderr, stdout } = svc.output();
    expect(stderr).toMatch(variant === 'a wrong key' ? /wrong SESSION_ENCRYPTION_KEY/ : /no SESSION_ENCRYPTION_KEY is set/);
    expect(stderr).toContain(accountFile(dir, 'session.json'));
    const after = snapshot(dir, dirLog);
    expect([...after.keys()].sort(), 'the same files after the refused start').toEqual([...before.keys()].sort());
    expect(after, 'every file byte for byte as before the refused start').toEqual(before);
    const logged = fs.readFileSync(dirLog, 'utf8') + stdout + stderr;
    for (const secret of [...encodings(key), ...encodings(Buffer.from(wrongKey, 'hex')), ...encodings(authKey)]) {
      if (logged.includes(secret)) counts.secretLeaks += 1;
      expect(logged.includes(secret)).toBe(false);
    }
  }

  for (const variant of ['a wrong key', 'no key'] as const) {
    it(`${variant}: a clear start-up error naming SESSION_ENCRYPTION_KEY; every file byte for byte as before`, async () => {
      await expectRefusal(copyOfDataDir(), variant);
    });
  }

  it('after those refusals the right key still restores the session', async () => {
    counts.casesTried += 1;
    const dir = copyOfDataDir();
    await expectRefusal(dir, 'a wrong key');
    await expectRefusal(dir, 'no key');
    const svc = await start(dir, key.toString('base64'));
    try {
      await svc.waitForLog(LOG_MESSAGES.sessionRestored, 20_000);
      expect((await request(svc, 'GET', '/api/telegram/status')).body).toMatchObject({ state: 'authenticated', user: { id: userId } });
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });
});

describe('a malformed SESSION_ENCRYPTION_KEY', () => {
  it('exits 2 at once with a configuration error that does not echo the value', async () => {
    counts.casesTried += 1;
    const badKey = randomBytes(31).toString('hex');
    const svc = await startService({ env: { SESSION_ENCRYPTION_KEY: badKey }, noWait: true });
    expect((await svc.exited).code).toBe(2);
    const { stderr, stdout } = svc.output();
    expect(stderr).toContain('SESSION_ENCRYPTION_KEY must be 32 bytes');
    expect(stderr + stdout).not.toContain(badKey);
    expect(stderr + stdout).not.toContain(badKey.slice(0, 16));
  });
});
