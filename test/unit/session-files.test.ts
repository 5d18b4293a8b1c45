/**
 * Corrupt and hostile session.json / auth_state.json (issue 4 item 2) and encryption at rest (item 8):
 * one case per row, each with its expected outcome. Real files in a temp directory.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SessionFileError } from '../../src/store/errors.js';
import { createSessionStore } from '../../src/store/files/account-files.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';
import { captureStoreLog } from '../helpers/store-log.js';
import { sessionStorePerTest } from './session-store.harness.js';

const files = sessionStorePerTest('session-files-', { makeDataDir: true });

const sessionPath = () => path.join(files.dataDir, 'session.json');
const bakPath = () => path.join(files.dataDir, 'session.json.bak');
const authPath = () => path.join(files.dataDir, 'auth_state.json');
const key256 = () => new Uint8Array(randomBytes(256));
const modeOf = async (p: string) => (await fsp.stat(p)).mode & 0o777;
const movedAside = async (base = 'session.json') =>
  (await fsp.readdir(files.dataDir)).filter((n) => n.startsWith(`${base}.corrupt-`));

/** A valid session.json (and its .bak) written by the store itself; returns the key. */
async function writeGoodSession(opts: { encryptionKey?: Uint8Array } = {}): Promise<Uint8Array> {
  const store = createSessionStore({ dataDir: files.dataDir, environment: 'sandbox', log: captureStoreLog(), ...opts });
  await store.load();
  const key = key256();
  await (await store.createStorage()).authKeys.set(2, key);
  await store.close();
  return key;
}

const validDocument = (key: Uint8Array) =>
  JSON.stringify({ version: 1, environment: 'sandbox', authKeys: { '2': Buffer.from(key).toString('base64') }, self: null });

describe('damaged session.json: moved aside, start from the good copy (or without a session), never throw', () => {
  const cases: Array<{ name: string; content: () => string | Buffer; reason: string }> = [
    { name: 'empty', content: () => '', reason: 'corrupt' },
    { name: 'whitespace only', content: () => '  \n', reason: 'corrupt' },
    { name: 'truncated', content: () => validDocument(key256()).slice(0, 60), reason: 'corrupt' },
    { name: 'garbage bytes', content: () => randomBytes(300), reason: 'corrupt' },
    { name: 'JSON array', content: () => '[1,2,3]', reason: 'corrupt' },
    { name: 'JSON null', content: () => 'null', reason: 'corrupt' },
    { name: 'wrong shape (authKeys missing)', content: () => '{"version":1,"environment":"sandbox"}', reason: 'corrupt' },
    {
      name: 'auth key of the wrong length',
      content: () => JSON.stringify({ version: 1, environment: 'sandbox', authKeys: { '2': 'AAAA' } }),
      reason: 'corrupt',
    },
    {
      name: 'bad DC id',
      content: () => JSON.stringify({ version: 1, environment: 'sandbox', authKeys: { abc: Buffer.from(key256()).toString('base64') } }),
      reason: 'corrupt',
    },
    { name: 'unknown version', content: () => validDocument(key256()).replace('"version":1', '"version":99'), reason: 'unsupported_version' },
    { name: 'huge file (2 MiB)', content: () => Buffer.alloc(2 * 1024 * 1024, 0x20), reason: 'too_large' },
  ];

  for (const c of cases) {
    it(`${c.name} → moved aside (${c.reason}); restored from session.json.bak`, async () => {
      const key = await writeGoodSession();
      await fsp.writeFile(sessionPath(), c.content(), { mode: 0o600 });
      const store = files.newStore();
      await store.load(); // never throws
      expect(store.hasSession()).toBe(true);
      expect(await (await store.createStorage()).authKeys.get(2)).toEqual(key);
      expect(await movedAside()).toHaveLength(1);
      const line = files.log.lines.find((l) => l.level === 'error' && (l.obj as { reason?: string }).reason === c.reason);
      const movedTo = path.basename(String((line?.obj as { movedTo?: string } | undefined)?.movedTo));
      expect(movedTo).toMatch(/^session\.json\.corrupt-/);
      expect(line?.msg.endsWith(LOG_MESSAGES.movedAside('', movedTo))).toBe(true);
      // session.json was rewritten from the good copy.
      const onDisk = JSON.parse(await fsp.readFile(sessionPath(), 'utf8')) as { authKeys: Record<string, string> };
      expect(onDisk.authKeys['2']).toBe(Buffer.from(key).toString('base64'));
    });

    it(`${c.name} and no good copy → moved aside; starts without a session`, async () => {
      await fsp.writeFile(sessionPath(), c.content(), { mode: 0o600 });
      const store = files.newStore();
      await store.load();
      expect(store.hasSession()).toBe(false);
      expect(await movedAside()).toHaveLength(1);
      await expect(fsp.stat(sessionPath())).rejects.toMatchObject({ code: 'ENOENT' });
    });
  }

  it('both session.json and the good copy damaged → both moved aside, no session', async () => {
    await fsp.writeFile(sessionPath(), '{"trunc', { mode: 0o600 });
    await fsp.writeFile(bakPath(), 'garbage', { mode: 0o600 });
    const store = files.newStore();
    await store.load();
    expect(store.hasSession()).toBe(false);
    expect(await movedAside('session.json')).toHaveLength(1);
    expect(await movedAside('session.json.bak')).toHaveLength(1);
  });

  it('a symlinked session.json is never read through: the link is moved aside, its target untouched', async () => {
    const key = await writeGoodSession();
    const target = path.join(files.root, 'elsewhere.json');
    await fsp.writeFile(target, validDocument(key256()), { mode: 0o644 });
    await fsp.rm(sessionPath());
    await fsp.symlink(target, sessionPath());
    const store = files.newStore();
    await store.load();
    expect(await (await store.createStorage()).authKeys.get(2)).toEqual(key); // from the good copy, not the target
    const aside = await movedAside();
    expect(aside).toHaveLength(1);
    expect((await fsp.lstat(path.join(files.dataDir, aside[0]!))).isSymbolicLink()).toBe(true);
    expect(await modeOf(target)).toBe(0o644);
    expect((await fsp.lstat(sessionPath())).isSymbolicLink()).toBe(false);
  });

  it('a directory named session.json is moved aside', async () => {
    await fsp.mkdir(sessionPath());
    const store = files.newStore();
    await store.load();
    expect(store.hasSession()).toBe(false);
    expect(await movedAside()).toHaveLength(1);
  });

  it('a FIFO named session.json is moved aside without blocking', async () => {
    execFileSync('mkfifo', [sessionPath()]);
    const store = files.newStore();
    await store.load();
    expect(store.hasSession()).toBe(false);
    expect(await movedAside()).toHaveLength(1);
  });

  it('a group/world-readable session.json is fixed to 0600 with a warning and used', async () => {
    const key = await writeGoodSession();
    await fsp.chmod(sessionPath(), 0o644);
    const store = files.newStore();
    await store.load();
    expect(await (await store.createStorage()).authKeys.get(2)).toEqual(key);
    expect(await modeOf(sessionPath())).toBe(0o600);
    expect(files.log.lines.some((l) => l.level === 'warn' && /0644; fixed to 0600/.test(l.msg))).toBe(true);
    expect(await movedAside()).toHaveLength(0);
  });

  it('a loose data directory is tightened to 0700 with a warning', async () => {
    await fsp.chmod(files.dataDir, 0o755);
    const store = files.newStore();
    await store.load();
    expect(await modeOf(files.dataDir)).toBe(0o700);
    expect(files.log.lines.some((l) => l.level === 'warn' && /tightened to 0700/.test(l.msg))).toBe(true);
  });

  it('session.json missing but a good copy present → no session (a deleted file is not resurrected)', async () => {
    await writeGoodSession();
    await fsp.rm(sessionPath());
    const store = files.newStore();
    await store.load();
    expect(store.hasSession()).toBe(false);
  });

  it('a hand-written file with only readable DC fields is accepted', async () => {
    const key = key256();
    await fsp.writeFile(
      sessionPath(),
      JSON.stringify({
        version: 1,
        environment: 'sandbox',
        primaryDc: { id: 2, ipAddress: '127.0.0.1', port: 9444 },
        authKeys: { '2': Buffer.from(key).toString('base64') },
      }),
      { mode: 0o600 },
    );
    const store = files.newStore();
    await store.load();
    const storage = await store.createStorage();
    expect(await storage.authKeys.get(2)).toEqual(key);
    expect(await storage.kv.get('dc_main')).not.toBeNull();
  });

  it('temp files of an interrupted write are removed at load', async () => {
    await writeGoodSession();
    // One for every file the store writes atomically (a kill -9 can cut any of them short).
    for (const name of ['session.json', 'session.json.bak', 'auth_state.json', 'future_auth_tokens.json']) {
      await fsp.writeFile(path.join(files.dataDir, `.${name}.tmp-123-abcdef`), 'partial');
    }
    const store = files.newStore();
    await store.load();
    expect((await fsp.readdir(files.dataDir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

describe('configuration mismatches: nothing moved or overwritten until this environment writes its own', () => {
  it('session.json of another environment: no session, a load problem, the file untouched; a write moves it aside first', async () => {
    await writeGoodSession();
    const before = await fsp.readFile(sessionPath());
    const store = files.newStore({ environment: 'production' });
    await store.load();
    expect(store.hasSession()).toBe(false);
    expect(store.loadProblem()).toMatchObject({ reason: 'SESSION_OF_OTHER_ENVIRONMENT' });
    expect(await fsp.readFile(sessionPath())).toEqual(before);
    expect(await movedAside()).toHaveLength(0);
    // This environment's first write keeps the other one's file, renamed, never overwritten.
    await store.updateMeta({ floodWaits: { x: 1 } });
    expect(store.persistenceError()).toBeUndefined();
    expect(store.loadProblem()).toBeUndefined();
    const names = await fsp.readdir(files.dataDir);
    const aside = names.find((n) => n.startsWith('session.json.other-environment-'));
    expect(aside).toBeDefined();
    expect(await fsp.readFile(path.join(files.dataDir, aside!))).toEqual(before);
  });
});

describe('damaged auth_state.json', () => {
  const cases: Array<[string, string]> = [
    ['empty', ''],
    ['truncated', '{"user_auth": true, "user_id": 12'],
    ['wrong shape', '{"user_auth": false, "user_id": 1, "phone": "+1", "saved_at": "2025-01-01T00:00:00Z", "version": "1.0"}'],
    ['unknown version', '{"user_auth": true, "user_id": 1, "phone": "+1", "saved_at": "2025-01-01T00:00:00Z", "version": "2.0"}'],
  ];
  for (const [name, content] of cases) {
    it(`${name} → moved aside, no auth state, session kept`, async () => {
      await writeGoodSession();
      await fsp.writeFile(authPath(), content, { mode: 0o600 });
      const store = files.newStore();
      await store.load();
      expect(store.authState()).toBeUndefined();
      expect(store.hasSession()).toBe(true);
      expect(await movedAside('auth_state.json')).toHaveLength(1);
    });
  }

  it('a world-readable auth_state.json is fixed to 0600 and used', async () => {
    const state = { user_auth: true, user_id: 5, phone: '+1', saved_at: '2025-01-01T00:00:00.000Z', version: '1.0' };
    await fsp.writeFile(authPath(), JSON.stringify(state), { mode: 0o666 });
    await fsp.chmod(authPath(), 0o666);
    const store = files.newStore();
    await store.load();
    expect(store.authState()).toEqual(state);
    expect(await modeOf(authPath())).toBe(0o600);
  });
});

describe('encryption at rest (AES-256-GCM)', () => {
  const encryptionKey = new Uint8Array(randomBytes(32));

  it('round-trips, and the file holds no key material in the clear', async () => {
    const key = await writeGoodSession({ encryptionKey });
    const text = await fsp.readFile(sessionPath(), 'utf8');
    const envelope = JSON.parse(text) as { version: number; encrypted: { alg: string; iv: string; tag: string; data: string } };
    expect(envelope.version).toBe(1);
    expect(envelope.encrypted.alg).toBe('aes-256-gcm');
    expect(text).not.toContain(Buffer.from(key).toString('base64').slice(0, 24));
    expect(text).not.toContain(Buffer.from(key).toString('hex').slice(0, 24));
    expect(text).not.toContain('sandbox');
    expect(await fsp.readFile(bakPath(), 'utf8')).toBe(text);

    const store = files.newStore({ encryptionKey });
    await store.load();
    expect(await (await store.createStorage()).authKeys.get(2)).toEqual(key);
  });

  it('a wrong key is a clear typed error; the file is neither moved nor overwritten', async () => {
    await writeGoodSession({ encryptionKey });
    const before = await fsp.readFile(sessionPath());
    const store = files.newStore({ encryptionKey: new Uint8Array(randomBytes(32)) });
    const err = await store.load().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionFileError);
    expect(err).toMatchObject({ reason: 'decrypt_failed', message: expect.stringMatching(/wrong SESSION_ENCRYPTION_KEY/) });
    await (await store.createStorage()).authKeys.set(2, key256()); // must not clobber the encrypted file
    await store.close();
    expect(await fsp.readFile(sessionPath())).toEqual(before);
    expect(await movedAside()).toHaveLength(0);
  });

  it('an encrypted file without a key is a clear typed error', async () => {
    await writeGoodSession({ encryptionKey });
    const err = await files.newStore().load().catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'SessionFileError', reason: 'encryption_key_missing' });
  });

  it('a plaintext file is encrypted at the first load with a key', async () => {
    const key = await writeGoodSession();
    const store = files.newStore({ encryptionKey });
    await store.load();
    await store.close();
    expect(JSON.parse(await fsp.readFile(sessionPath(), 'utf8'))).toHaveProperty('encrypted');
    expect(JSON.parse(await fsp.readFile(bakPath(), 'utf8'))).toHaveProperty('encrypted');
    expect(await (await store.createStorage()).authKeys.get(2)).toEqual(key);
  });

  it('a tampered ciphertext is refused as decrypt_failed, not moved aside', async () => {
    await writeGoodSession({ encryptionKey });
    const envelope = JSON.parse(await fsp.readFile(sessionPath(), 'utf8')) as { encrypted: { data: string } };
    const data = Buffer.from(envelope.encrypted.data, 'base64');
    data[0] = data[0]! ^ 1;
    envelope.encrypted.data = data.toString('base64');
    await fsp.writeFile(sessionPath(), JSON.stringify(envelope));
    await expect(files.newStore({ encryptionKey }).load()).rejects.toMatchObject({ reason: 'decrypt_failed' });
    expect(await movedAside()).toHaveLength(0);
  });

  it('a key of the wrong size is refused up front', () => {
    expect(() => files.newStore({ encryptionKey: new Uint8Array(16) })).toThrow(/32 bytes/);
  });
});
