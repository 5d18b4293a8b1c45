import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serializeBasicDcOption } from '@mtcute/core/utils.js';
import type { AuthStateFile, PendingLogin } from '../../src/store/types.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';
import { sessionStorePerTest } from './session-store.harness.js';

const files = sessionStorePerTest('session-store-');

const sessionPath = () => path.join(files.dataDir, 'session.json');
const readSessionJson = async () => JSON.parse(await fsp.readFile(sessionPath(), 'utf8')) as Record<string, unknown>;
const modeOf = async (p: string) => (await fsp.stat(p)).mode & 0o777;
const authKey = () => new Uint8Array(randomBytes(256));

const pending: PendingLogin = {
  phone: '+9996621234',
  phoneCodeHash: 'abc123',
  dcId: 2,
  codeType: 'app',
  codeLength: 5,
  sentAt: '2025-01-01T00:00:00.000Z',
};

describe('session store: files and write-through', () => {
  it('creates the data directory 0700 and starts without a session', async () => {
    const store = files.newStore();
    await store.load();
    expect(await modeOf(files.dataDir)).toBe(0o700);
    expect(store.hasSession()).toBe(false);
    expect(store.meta()).toEqual({ environment: 'sandbox' });
    expect(store.authState()).toBeUndefined();
    await expect(fsp.stat(sessionPath())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('writes an auth key through to disk before the repository call resolves', async () => {
    const store = files.newStore();
    await store.load();
    const storage = await store.createStorage();
    const key = authKey();
    await storage.authKeys.set(2, key);
    const onDisk = await readSessionJson();
    expect(onDisk).toMatchObject({ version: 1, environment: 'sandbox', authKeys: { '2': Buffer.from(key).toString('base64') } });
    expect(typeof onDisk.savedAt).toBe('string');
    expect(await modeOf(sessionPath())).toBe(0o600);
    expect(store.hasSession()).toBe(true);
    expect(store.sessionWrites).toBe(1);

    // The last-known-good copy follows.
    await store.close();
    expect(await fsp.readFile(path.join(files.dataDir, 'session.json.bak'), 'utf8')).toBe(await fsp.readFile(sessionPath(), 'utf8'));
    expect(await modeOf(path.join(files.dataDir, 'session.json.bak'))).toBe(0o600);
  });

  it('copies a burst of writes to session.json.bak once, after it settles (backupDelayMs), without close()', async () => {
    const backupDelayMs = 3_000;
    const store = files.newStore({ backupDelayMs });
    await store.load();
    const storage = await store.createStorage();
    const firstWriteAt = Date.now();
    await storage.authKeys.set(2, authKey());
    for (let i = 0; i < 5; i++) await store.updateMeta({ floodWaits: { 'burst.method': Date.now() + i } });
    expect(store.sessionWrites).toBe(6);
    const bak = path.join(files.dataDir, 'session.json.bak');
    // No copy runs during the burst: the writes never share the disk's flushes with one.
    expect(Date.now() - firstWriteAt).toBeLessThan(backupDelayMs); // (the burst itself took less than the delay)
    await expect(fsp.stat(bak)).rejects.toMatchObject({ code: 'ENOENT' });
    let copy: string | undefined;
    while (copy === undefined && Date.now() - firstWriteAt < backupDelayMs + 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      copy = await fsp.readFile(bak, 'utf8').catch(() => undefined);
    }
    expect(Date.now() - firstWriteAt).toBeGreaterThanOrEqual(backupDelayMs);
    expect(copy).toBe(await fsp.readFile(sessionPath(), 'utf8')); // the newest content
    const copied = await fsp.stat(bak);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await fsp.stat(bak)).ino).toBe(copied.ino); // copied once: nothing was due after it
  });

  it('never rewrites session.json for salts, peers, update state, temp keys or a bare save()', async () => {
    const store = files.newStore();
    await store.load();
    const storage = await store.createStorage();
    await storage.authKeys.set(2, authKey());
    await store.close();
    const before = await fsp.stat(sessionPath());
    const writes = store.sessionWrites;

    await storage.kv.set('salts:2', new Uint8Array(40));
    await storage.kv.set('updates_pts', new Uint8Array([1, 0, 0, 0]));
    await storage.kv.set('updates_channel:123', new Uint8Array([5, 0, 0, 0]));
    await storage.kv.delete('salts:2');
    await storage.authKeys.setTemp(2, 0, authKey(), Date.now() + 60_000);
    await storage.peers.store({ id: 777, accessHash: '1', isMin: false, usernames: ['u'], updated: 0, complete: new Uint8Array(8) });
    await storage.refMessages.store(777, 1, 2);
    await storage.driver.save?.();
    // Setting the same key again changes nothing either.
    const same = await storage.authKeys.get(2);
    await storage.authKeys.set(2, same);
    await store.close();

    const after = await fsp.stat(sessionPath());
    expect(store.sessionWrites).toBe(writes);
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(await storage.kv.get('updates_pts')).toEqual(new Uint8Array([1, 0, 0, 0])); // still served from memory
  });

  it('writes login-relevant mtcute keys (dc_main, dc_media, current_user) faithfully and readably', async () => {
    const store = files.newStore();
    await store.load();
    const storage = await store.createStorage();
    const main = serializeBasicDcOption({ id: 2, ipAddress: '127.0.0.1', port: 4430 });
    const media = serializeBasicDcOption({ id: 2, ipAddress: '127.0.0.1', port: 4431, mediaOnly: true });
    // current_user as mtcute 0.30 writes it: v1, flags (2 = usernames), int53 id, 1 username.
    const self = Buffer.from('01000000' + '02000000' + '15cd5b0700000000' + '01000000' + '05616c6963650000', 'hex');
    await storage.authKeys.set(2, authKey());
    await storage.kv.set('dc_main', main);
    await storage.kv.set('dc_media', media);
    await storage.kv.set('current_user', self);

    const onDisk = await readSessionJson();
    expect(onDisk.primaryDc).toEqual({ id: 2, ipAddress: '127.0.0.1', port: 4430 });
    expect(onDisk.mediaDc).toEqual({ id: 2, ipAddress: '127.0.0.1', port: 4431, mediaOnly: true });
    expect(onDisk.self).toEqual({ userId: 123456789, isBot: false, isPremium: false, usernames: ['alice'] });
    expect(onDisk.mtcute).toEqual({
      current_user: self.toString('base64'),
      dc_main: Buffer.from(main).toString('base64'),
      dc_media: Buffer.from(media).toString('base64'),
    });

    // A second process reads the same bytes back into mtcute's repositories.
    await store.close();
    const again = files.newStore();
    await again.load();
    const restored = await again.createStorage();
    expect(await restored.kv.get('dc_main')).toEqual(main);
    expect(await restored.kv.get('current_user')).toEqual(new Uint8Array(self));
    expect(await restored.authKeys.get(2)).toEqual(await storage.authKeys.get(2));

    // Logged out in mtcute: current_user becomes empty bytes → self null.
    await restored.kv.set('current_user', new Uint8Array(0));
    expect((await readSessionJson()).self).toBeNull();
  });

  it('records the configured primary DC with its first key', async () => {
    const store = files.newStore();
    await store.load();
    const main = { id: 2, ipAddress: '127.0.0.1', port: 9444 };
    const storage = await store.createStorage({ primaryDcs: { main, media: main } });
    await storage.authKeys.set(2, authKey());
    const onDisk = await readSessionJson();
    expect(onDisk.primaryDc).toEqual(main);
    expect(onDisk.mediaDc).toBeUndefined();
    expect(await storage.kv.get('dc_main')).toEqual(serializeBasicDcOption(main));
  });

  it('deletes keys through to disk (deleteByDc, deleteAll, set null)', async () => {
    const store = files.newStore();
    await store.load();
    const storage = await store.createStorage();
    await storage.authKeys.set(1, authKey());
    await storage.authKeys.set(2, authKey());
    await storage.authKeys.set(4, authKey());
    await storage.authKeys.deleteByDc(1);
    expect(Object.keys((await readSessionJson()).authKeys as object)).toEqual(['2', '4']);
    await storage.authKeys.set(4, null);
    expect(Object.keys((await readSessionJson()).authKeys as object)).toEqual(['2']);
    await storage.authKeys.deleteAll();
    expect((await readSessionJson()).authKeys).toEqual({});
    expect(store.hasSession()).toBe(false);
  });

  it('keeps meta (pending login, flood waits) in the same document and restores it', async () => {
    const store = files.newStore();
    await store.load();
    const storage = await store.createStorage();
    await storage.authKeys.set(2, authKey());
    await store.updateMeta({ pendingLogin: pending, floodWaits: { 'auth.sendCode': 1_900_000_000_000 } });
    expect((await readSessionJson()).pendingLogin).toEqual(pending);
    await store.close();

    const again = files.newStore();
    await again.load();
    expect(again.hasSession()).toBe(true);
    expect(again.meta()).toEqual({ environment: 'sandbox', pendingLogin: pending, floodWaits: { 'auth.sendCode': 1_900_000_000_000 } });
    await again.updateMeta({ pendingLogin: undefined });
    expect((await readSessionJson()).pendingLogin).toBeUndefined();
    expect(again.meta()?.floodWaits).toEqual({ 'auth.sendCode': 1_900_000_000_000 });
    await expect(again.updateMeta({ environment: 'production' })).rejects.toThrow(/environment/);
  });

  it('serializes concurrent writes from mtcute and meta into one consistent document', async () => {
    const store = files.newStore();
    await store.load();
    const storage = await store.createStorage();
    const keys = [1, 2, 3, 4, 5].map(() => authKey());
    await Promise.all([
      ...keys.map((k, i) => storage.authKeys.set(i + 1, k)),
      store.updateMeta({ pendingLogin: pending }),
      store.updateMeta({ floodWaits: { x: 1 } }),
    ]);
    const onDisk = await readSessionJson();
    expect(Object.keys(onDisk.authKeys as object)).toEqual(['1', '2', '3', '4', '5']);
    expect(onDisk.pendingLogin).toEqual(pending);
    expect(onDisk.floodWaits).toEqual({ x: 1 });
    expect(store.sessionWrites).toBeLessThan(8); // coalesced
  });

  it('clearSession removes session.json and its good copy; the old storage cannot write the key back', async () => {
    const store = files.newStore();
    await store.load();
    const storage = await store.createStorage();
    await storage.authKeys.set(2, authKey());
    await store.close();
    await store.clearSession();
    await expect(fsp.stat(sessionPath())).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fsp.stat(path.join(files.dataDir, 'session.json.bak'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(store.hasSession()).toBe(false);

    await storage.authKeys.set(2, authKey()); // the replaced client's late write
    await store.close();
    await expect(fsp.stat(sessionPath())).rejects.toMatchObject({ code: 'ENOENT' });

    // A new storage after clearing starts a new session file.
    const fresh = await store.createStorage();
    expect(await fresh.authKeys.get(2)).toBeNull();
    await fresh.authKeys.set(2, authKey());
    expect(Object.keys((await readSessionJson()).authKeys as object)).toEqual(['2']);
  });

  it('the good copy always ends at the newest content and never keeps a cleared key', async () => {
    const store = files.newStore();
    await store.load();
    const dead = authKey();
    void (await store.createStorage()).authKeys.set(2, dead);
    void store.clearSession();
    const live = authKey();
    await (await store.createStorage()).authKeys.set(2, live);
    await store.close();
    const bak = await fsp.readFile(path.join(files.dataDir, 'session.json.bak'), 'utf8');
    expect(bak).toBe(await fsp.readFile(sessionPath(), 'utf8'));
    expect(bak).toContain(Buffer.from(live).toString('base64'));
    expect(bak).not.toContain(Buffer.from(dead).toString('base64'));
  });

  it('only the newest storage writes (a replaced client is ignored)', async () => {
    const store = files.newStore();
    await store.load();
    const old = await store.createStorage();
    const current = await store.createStorage();
    const key = authKey();
    await current.authKeys.set(2, key);
    await old.authKeys.set(2, authKey());
    expect((await readSessionJson()).authKeys).toEqual({ '2': Buffer.from(key).toString('base64') });
    expect(files.log.lines.some((l) => l.level === 'warn' && l.msg === LOG_MESSAGES.replacedStorageWrite)).toBe(true);
  });
});

describe('auth_state.json', () => {
  const state: AuthStateFile = {
    user_auth: true,
    user_id: 123456789,
    phone: '+9996621234',
    saved_at: '2025-06-17T23:11:46.000Z',
    version: '1.0',
  };

  it('is written in exactly the seed format, 0600, and read back', async () => {
    const store = files.newStore();
    await store.load();
    await store.writeAuthState(state);
    const file = path.join(files.dataDir, 'auth_state.json');
    const text = await fsp.readFile(file, 'utf8');
    expect(Object.keys(JSON.parse(text))).toEqual(['user_auth', 'user_id', 'phone', 'saved_at', 'version']);
    expect(JSON.parse(text)).toEqual(state);
    expect(await modeOf(file)).toBe(0o600);

    const again = files.newStore();
    await again.load();
    expect(again.authState()).toEqual(state);
  });

  it('touch refreshes saved_at at most once per interval (default 10 minutes)', async () => {
    const store = files.newStore();
    await store.load();
    await store.writeAuthState(state);
    const file = path.join(files.dataDir, 'auth_state.json');
    const t0 = Date.parse(state.saved_at);
    expect(await store.touchAuthState(new Date(t0 + 9 * 60_000))).toBe(false);
    expect(await store.touchAuthState(new Date(t0 + 10 * 60_000))).toBe(true);
    expect(JSON.parse(await fsp.readFile(file, 'utf8')).saved_at).toBe(new Date(t0 + 10 * 60_000).toISOString());
    expect(await store.touchAuthState(new Date(t0 + 11 * 60_000))).toBe(false);
    expect(await store.touchAuthState(new Date(t0 + 11 * 60_000), 30_000)).toBe(true);
  });

  it('touch without auth state does nothing; removeAuthState deletes the file; session.json unaffected', async () => {
    const store = files.newStore();
    await store.load();
    expect(await store.touchAuthState(new Date())).toBe(false);
    await (await store.createStorage()).authKeys.set(2, authKey());
    await store.writeAuthState(state);
    const writes = store.sessionWrites;
    await store.removeAuthState();
    await expect(fsp.stat(path.join(files.dataDir, 'auth_state.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(store.authState()).toBeUndefined();
    expect(store.sessionWrites).toBe(writes);
    expect(store.hasSession()).toBe(true);
  });

  it('rejects an invalid auth state without touching the file', async () => {
    const store = files.newStore();
    await store.load();
    await expect(store.writeAuthState({ ...state, user_id: -1 })).rejects.toThrow(TypeError);
    await expect(fsp.stat(path.join(files.dataDir, 'auth_state.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
