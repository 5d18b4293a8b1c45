/**
 * The store under kill -9: a child process runs the real store (mtcute key writes, meta writes and
 * auth-state touches in a tight loop); the parent SIGKILLs it at random moments and then loads the
 * directory as a restarted service would. Every time: nothing moved aside as corrupt, the session is
 * there, and both files are complete versions the child wrote.
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createSessionStore } from '../../src/store/files/account-files.js';
import type { StoreLog } from '../../src/store/types.js';

const ITERATIONS = 30;

/** The built store (npm test builds first): a child on tsx would spend ~1 s per start transpiling. */
const storeModule = fileURLToPath(new URL('../../dist/store/files/account-files.js', import.meta.url));

function captureLogger(): StoreLog & { errors: string[] } {
  const errors: string[] = [];
  return { errors, info() {}, warn() {}, debug() {}, error: (_o: object, msg: string) => void errors.push(msg) };
}

async function runChildAndKill(dataDir: string, afterMs: number): Promise<void> {
  const script = `
    const { createSessionStore } = await import(${JSON.stringify(storeModule)});
    const { randomBytes } = await import('node:crypto');
    const noop = () => {};
    const store = createSessionStore({ dataDir: ${JSON.stringify(dataDir)}, environment: 'sandbox', log: { info: noop, warn: noop, error: noop, debug: noop } });
    await store.load();
    const storage = await store.createStorage();
    let n = store.meta()?.floodWaits?.n ?? 0;
    if (!store.hasSession()) await storage.authKeys.set(2, new Uint8Array(randomBytes(256)));
    process.stdout.write('ready\\n');
    for (;;) {
      n++;
      await Promise.all([
        store.updateMeta({ floodWaits: { n } }),
        n % 3 === 0 ? storage.authKeys.set(4, new Uint8Array(randomBytes(256))) : Promise.resolve(),
        store.writeAuthState({ user_auth: true, user_id: 1000 + n, phone: '+9996621234', saved_at: new Date().toISOString(), version: '1.0' }),
      ]);
    }
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before ready`)));
  });
  await new Promise((r) => setTimeout(r, afterMs));
  child.kill('SIGKILL');
  await exited;
}

describe('session store under SIGKILL', () => {
  it(`${ITERATIONS} kills mid-write: every restart loads complete files, nothing is lost or moved aside`, async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'session-crash-'));
    onTestFinished(() => fsp.rm(root, { recursive: true, force: true }));
    const dataDir = path.join(root, 'data');
    let lastN = 0;
    let lastUserId = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      await runChildAndKill(dataDir, 5 + Math.floor(Math.random() * 50));
      const log = captureLogger();
      const store = createSessionStore({ dataDir, environment: 'sandbox', log });
      await store.load();
      expect(log.errors).toEqual([]);
      expect(store.hasSession()).toBe(true);
      const n = (store.meta()?.floodWaits?.n as number | undefined) ?? 0;
      expect(n).toBeGreaterThanOrEqual(lastN); // a completed write is never lost
      lastN = n;
      // auth_state.json exists from the child's first completed write on, and a completed write is never lost.
      const userId = store.authState()?.user_id ?? 0;
      expect(userId).toBeGreaterThanOrEqual(lastUserId);
      expect(userId === 0 || userId > 1000, `user_id ${userId}`).toBe(true);
      lastUserId = userId;
      await store.close();
      const names = await fsp.readdir(dataDir);
      expect(names.filter((x) => x.includes('corrupt'))).toEqual([]);
      expect(names.filter((x) => x.includes('.tmp-'))).toEqual([]); // cleaned up by the load
    }
    expect(lastN).toBeGreaterThan(0);
    expect(lastUserId).toBeGreaterThan(1000);
  }, 180_000);
});
