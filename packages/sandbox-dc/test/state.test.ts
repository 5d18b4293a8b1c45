import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createSrpPassword } from '../src/crypto/srp.js';
import { SandboxState } from '../src/state/sandbox-state.js';
import { LoginCodes, testNumberDigit } from '../src/state/login-codes.js';
import { normalizePhone } from '../src/state/accounts.js';
import { acquireDataDirLock, DataDirLockedError } from '@telegram-service/durable-files';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sandbox-state-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function keyRecord(dcId = 2) {
  return { id: randomBytes(8).toString('hex'), key: new Uint8Array(randomBytes(256)), dcId, createdAt: Date.now() };
}

describe('sandbox DC state', () => {
  it('keeps accounts, passwords, keys, authorizations and messages across a reopen', async () => {
    const dir = tempDir();
    const s1 = new SandboxState({ dataDir: dir });
    const alice = s1.accounts.create({ phone: '+1 555 000 1111', firstName: 'Alice', username: 'alice_a' });
    const bob = s1.accounts.create({ phone: '15550002222', firstName: 'Bob', homeDc: 1, password: { srp: createSrpPassword('pw'), hint: 'h' } });
    const k = keyRecord(2);
    s1.keys.forDc(2).add(k);
    s1.keys.forDc(2).setLayer(k.id, 227, { apiId: 1, deviceModel: 'd', systemVersion: 's', appVersion: 'a', langCode: 'en' });
    s1.keys.bind(k.id, alice.id);
    s1.messages.send(alice.id, bob.id, 'hello');
    s1.messages.send(alice.id, alice.id, 'note to self');
    await s1.flush();

    // Reopen without close(): the flush and the key journal alone must be enough (crash after flush).
    const s2 = new SandboxState({ dataDir: dir });
    expect(s2.accounts.byPhone('15550001111')?.firstName).toBe('Alice');
    expect(s2.accounts.byUsername('@ALICE_A')?.id).toBe(alice.id);
    const bob2 = s2.accounts.byId(bob.id)!;
    expect(bob2.homeDc).toBe(1);
    expect(bob2.accessHash.eq(bob.accessHash)).toBe(true);
    expect(bob2.password?.srp.v).toEqual(bob.password!.srp.v);
    expect(bob2.password?.hint).toBe('h');
    const rec = s2.keys.forDc(2).get(k.id)!;
    expect(Buffer.from(rec.key)).toEqual(Buffer.from(k.key));
    expect(rec.layer).toBe(227);
    expect(s2.keys.forDc(1).get(k.id)).toBeUndefined(); // keys are per DC
    expect(s2.keys.get(k.id)?.authorization?.userId).toBe(alice.id);
    expect(s2.messages.pts(alice.id)).toBe(3); // boxes start at pts 1
    expect(s2.messages.pts(bob.id)).toBe(2);
    expect(s2.messages.dialogs(alice.id).map((d) => d.peerId)).toEqual([alice.id, bob.id]);
    // New ids continue after the restored ones.
    expect(s2.accounts.create({ phone: '15550003333' }).id).toBeGreaterThan(bob.id);
    await s2.close();
  });

  it('makes an added key durable before add() returns and survives a torn journal line', () => {
    const dir = tempDir();
    const s1 = new SandboxState({ dataDir: dir });
    const k = keyRecord(1);
    s1.keys.forDc(1).add(k);
    // Simulate a crash mid-append of the next line.
    appendFileSync(join(dir, 'auth-keys.jsonl'), '{"op":"add","rec');
    const s2 = new SandboxState({ dataDir: dir });
    expect(s2.keys.forDc(1).get(k.id)).toBeDefined();
    s2.keys.remove(k.id);
    const s3 = new SandboxState({ dataDir: dir });
    expect(s3.keys.get(k.id)).toBeUndefined();
  });

  it('stores auth keys sealed when given a seal secret: no file holds the key in hex or base64', async () => {
    const dir = tempDir();
    const s1 = new SandboxState({ dataDir: dir, keySealSecret: 'rsa private key pem' });
    const k = keyRecord(2);
    s1.keys.forDc(2).add(k);
    await s1.close();
    const journal = readFileSync(join(dir, 'auth-keys.jsonl'), 'utf8');
    expect(journal).not.toContain(Buffer.from(k.key).toString('base64'));
    expect(journal).not.toContain(Buffer.from(k.key).toString('hex'));
    const s2 = new SandboxState({ dataDir: dir, keySealSecret: 'rsa private key pem' });
    expect(Buffer.from(s2.keys.get(k.id)!.record.key)).toEqual(Buffer.from(k.key));
    // A wrong secret cannot read the key, but does not destroy it either.
    const wrong = new SandboxState({ dataDir: dir, keySealSecret: 'another secret' });
    expect(wrong.keys.get(k.id)).toBeUndefined();
    expect(wrong.keys.unrecoverableCount).toBe(1);
    await wrong.close();
    expect(new SandboxState({ dataDir: dir, keySealSecret: 'rsa private key pem' }).keys.get(k.id)).toBeDefined();
  });

  it('refuses a corrupt state file with a clear error', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'state.json'), '{not json');
    expect(() => new SandboxState({ dataDir: dir })).toThrow(/not valid JSON/);
  });

  it('writes state.json atomically after the debounce', async () => {
    const dir = tempDir();
    const s = new SandboxState({ dataDir: dir, saveDebounceMs: 10 });
    s.accounts.create({ phone: '15550004444' });
    await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toContain('15550004444');
    await s.close();
  });

  it('keeps everything in memory without a dataDir', async () => {
    const s = new SandboxState();
    const account = s.accounts.create({ phone: '15550005555' });
    const key = keyRecord();
    s.keys.add(key);
    await s.flush();
    expect(s.accounts.byPhone('15550005555')).toEqual(account);
    expect(s.keys.get(key.id)?.record.key).toEqual(key.key);
    // Nothing went anywhere another instance would read it from.
    const other = new SandboxState();
    expect(other.accounts.byPhone('15550005555')).toBeUndefined();
    expect(other.keys.get(key.id)).toBeUndefined();
    await s.close();
    await other.close();
  });

  it('validates accounts', () => {
    const s = new SandboxState();
    expect(() => s.accounts.create({ phone: 'abc' })).toThrow(/invalid phone/);
    s.accounts.create({ phone: '15550006666', username: 'someone' });
    expect(() => s.accounts.create({ phone: '15550006666' })).toThrow(/exists/);
    expect(() => s.accounts.create({ phone: '15550007777', username: 'SOMEONE' })).toThrow(/taken/);
    expect(() => s.accounts.create({ phone: '15550008888', homeDc: 3 })).toThrow(/homeDc/);
    expect(normalizePhone('+44 (20) 7946-0958')).toBe('442079460958');
  });
});

describe('data dir lock', () => {
  const dcLock = (dir: string) => acquireDataDirLock(dir, { fileName: 'sandbox-dc.lock', owner: 'sandbox DC' });

  it('allows one DC per data dir and takes over a lock whose owner is gone', async () => {
    const dir = tempDir();
    const lock = await dcLock(dir);
    const second = await dcLock(dir).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(DataDirLockedError);
    expect((second as Error).message).toMatch(/in use by process \d+.*only one sandbox DC may use a data directory/);
    await lock.release();
    await (await dcLock(dir)).release();
    // A lock left by a process that does not run any more (pid beyond pid_max) is taken over at once.
    writeFileSync(join(dir, 'sandbox-dc.lock'), JSON.stringify({ pid: 999999999, hostname: hostname(), acquiredAt: new Date().toISOString(), nonce: 'gone' }));
    await (await dcLock(dir)).release();
  });
});

describe('login codes', () => {
  it('gives test numbers X repeated five times and others a random 5-digit code', () => {
    const codes = new LoginCodes();
    expect(testNumberDigit('9996621234')).toBe(2);
    expect(testNumberDigit('99966212345')).toBeUndefined();
    codes.issue('9996621234', 'k', 2);
    expect(codes.lastCode('9996621234')).toBe('22222');
    codes.issue('9996651234', 'k', 2);
    expect(codes.lastCode('9996651234')).toBe('55555');
    const other = codes.issue('15550001111', 'k', 2);
    const code = codes.lastCode('15550001111')!;
    expect(code).toMatch(/^\d{5}$/);
    expect(codes.check('15550001111', other.phoneCodeHash, code, 'k').ok).toBe(true);
  });

  it('persists pending codes (as digests only) and 2FA logins across a restart', async () => {
    const dir = tempDir();
    const s1 = new SandboxState({ dataDir: dir });
    const pending = s1.codes.issue('15550001111', 'key-a', 2);
    const code = s1.codes.lastCode('15550001111')!;
    s1.passwordLogins.set('key-b', 700000001);
    await s1.flush();
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).not.toContain(`"${code}"`);

    const s2 = new SandboxState({ dataDir: dir });
    expect(s2.codes.lastCode('15550001111')).toBeUndefined(); // the plain code stayed in memory
    expect(s2.codes.check('15550001111', pending.phoneCodeHash, code, 'key-a').ok).toBe(true);
    expect(s2.passwordLogins.get('key-b')).toBe(700000001);
    s2.passwordLogins.delete('key-b');
    await s2.close();
    expect(new SandboxState({ dataDir: dir }).passwordLogins.size).toBe(0);
  });

  it('binds the hash to the asking key, expires codes and limits attempts', () => {
    const codes = new LoginCodes(60_000);
    const p = codes.issue('9996621234', 'key-a', 2);
    expect(codes.check('9996621234', p.phoneCodeHash, '22222', 'key-b')).toEqual({ ok: false, error: 'PHONE_CODE_HASH_INVALID' });
    expect(codes.check('9996621234', '', '22222', 'key-a')).toEqual({ ok: false, error: 'PHONE_CODE_HASH_EMPTY' });
    for (let i = 0; i < 5; i++) expect(codes.check('9996621234', p.phoneCodeHash, '11111', 'key-a')).toMatchObject({ error: 'PHONE_CODE_INVALID' });
    expect(codes.check('9996621234', p.phoneCodeHash, '22222', 'key-a')).toMatchObject({ error: 'PHONE_CODE_EXPIRED' });
    codes.lifetimeMs = -1;
    const q = codes.issue('9996621234', 'key-a', 2);
    expect(codes.check('9996621234', q.phoneCodeHash, '22222', 'key-a')).toMatchObject({ error: 'PHONE_CODE_EXPIRED' });
  });
});
