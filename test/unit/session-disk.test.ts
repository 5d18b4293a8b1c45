/**
 * Disk trouble (issue 4 item 5) on a real filesystem: a tiny tmpfs filled up (ENOSPC) and remounted
 * read-only (EROFS). Root ignores file modes, so chmod cannot produce these errors; a tmpfs can. It is
 * mounted here when this process may, else in an unprivileged user namespace (test/helpers/tmpfs.ts);
 * where neither works these tests fail saying why.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSessionStore, type FileSessionStore } from '../../src/store/files/account-files.js';
import type { PendingLogin } from '../../src/store/types.js';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';
import { captureStoreLog } from '../helpers/store-log.js';


const pending: PendingLogin = { phone: '+9996621234', phoneCodeHash: 'h', dcId: 2, codeType: 'app', sentAt: '2025-01-01T00:00:00.000Z' };

let disk: Tmpfs;
let dataDir: string;
let log: ReturnType<typeof captureStoreLog>;
const stores: FileSessionStore[] = [];

function newStore(): FileSessionStore {
  const store = createSessionStore({ dataDir, environment: 'sandbox', log, retryInitialMs: 20, retryMaxMs: 100 });
  stores.push(store);
  return store;
}

const sessionText = () => fsp.readFile(path.join(dataDir, 'session.json'), 'utf8');

async function fillDisk(): Promise<string> {
  const filler = path.join(disk.dir, 'filler');
  await fsp.writeFile(filler, Buffer.alloc(1024 * 1024)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOSPC') throw err;
  });
  return filler;
}

/** Poll (the store retries on a timer) until `check` holds; fails after a generous deadline. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('disk trouble on a real tmpfs', () => {
  beforeEach(async () => {
    disk = await mountTmpfs(128);
    dataDir = path.join(disk.dir, 'data');
    log = captureStoreLog();
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    await disk.dispose();
  });

  it('full disk (ENOSPC): keeps serving from memory, reports, keeps the old file, retries and recovers', async () => {
    const store = newStore();
    await store.load();
    const storage = await store.createStorage();
    const key = new Uint8Array(randomBytes(256));
    await storage.authKeys.set(2, key);
    await store.close();
    const before = await sessionText();

    const filler = await fillDisk();
    await store.updateMeta({ pendingLogin: pending }); // resolves: the failure is recorded, not thrown
    expect(store.persistenceError()).toMatchObject({ code: 'ENOSPC', file: path.join(dataDir, 'session.json') });
    expect(store.meta()?.pendingLogin).toEqual(pending); // served from memory
    expect(await sessionText()).toBe(before); // the old file is untouched
    expect((await fsp.readdir(dataDir)).filter((n) => n.includes('.tmp-'))).toEqual([]); // temp cleaned up
    expect(log.lines.some((l) => l.level === 'error' && l.msg === LOG_MESSAGES.writeFailed('session.json', 'ENOSPC'))).toBe(true);

    // A reload while the disk is full must not drop what exists only in memory.
    await store.load();
    expect(store.meta()?.pendingLogin).toEqual(pending);
    expect(await storage.authKeys.get(2)).toEqual(key);

    // Another reader (e.g. a restart) still finds the old, complete session.
    const reader = newStore();
    await reader.load();
    expect(reader.hasSession()).toBe(true);

    await fsp.rm(filler);
    await eventually(() => store.persistenceError() === undefined, 'the retry to succeed');
    expect(JSON.parse(await sessionText()).pendingLogin).toEqual(pending);
    expect(log.lines.some((l) => l.level === 'info' && l.msg === LOG_MESSAGES.writableAgain)).toBe(true);
  });

  it('full disk: an auth key set by mtcute is kept in memory and written when space returns', async () => {
    const store = newStore();
    await store.load();
    const storage = await store.createStorage();
    const filler = await fillDisk();
    const key = new Uint8Array(randomBytes(256));
    await storage.authKeys.set(2, key);
    expect(store.persistenceError()?.code).toBe('ENOSPC');
    expect(await storage.authKeys.get(2)).toEqual(key);
    await fsp.rm(filler);
    await eventually(() => store.persistenceError() === undefined, 'the retry to succeed');
    expect(JSON.parse(await sessionText()).authKeys['2']).toBe(Buffer.from(key).toString('base64'));
  });

  it('read-only filesystem (EROFS): session and auth state writes fail safely, then succeed after remount', async () => {
    const store = newStore();
    await store.load();
    await (await store.createStorage()).authKeys.set(2, new Uint8Array(randomBytes(256)));
    await store.close();
    const before = await sessionText();

    disk.remount('ro');
    await store.updateMeta({ floodWaits: { 'auth.sendCode': 1 } });
    await store.writeAuthState({ user_auth: true, user_id: 7, phone: '+1', saved_at: new Date().toISOString(), version: '1.0' });
    expect(store.persistenceError()?.code).toBe('EROFS');
    expect(await sessionText()).toBe(before);
    expect(store.authState()?.user_id).toBe(7);

    // Loading from a read-only data directory works (a restart while the disk is read-only).
    const reader = newStore();
    await reader.load();
    expect(reader.hasSession()).toBe(true);

    disk.remount('rw');
    await eventually(() => store.persistenceError() === undefined, 'the retry to succeed');
    expect(JSON.parse(await sessionText()).floodWaits).toEqual({ 'auth.sendCode': 1 });
    expect(JSON.parse(await fsp.readFile(path.join(dataDir, 'auth_state.json'), 'utf8')).user_id).toBe(7);
  });
});
