/**
 * `npm run migrate-store`: a data directory's accounts (encrypted at rest) go to PostgreSQL and back, and
 * every login survives both moves — the real service on each side restores every account to valid with
 * no new login (no new auth key at the DC), and the scoped tokens keep working.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresPerFile } from '../helpers/postgres.js';
import { loginThrough, sandboxPerFile, uniquePhone, waitForStatus, type Body } from '../helpers/sandbox-service.js';
import { REPO_ROOT } from '../helpers/service-process.js';

const db = postgresPerFile();
const sandbox = sandboxPerFile();
const roots: string[] = [];
afterAll(() => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
});

const KEY = randomBytes(32).toString('hex');
const TOKEN = randomBytes(24).toString('base64url');
const valid = (body: Body): boolean => body.state === 'authenticated' && body.session.validation === 'valid';

function freshDataDir(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'migrate-store-'));
  roots.push(root);
  return path.join(root, 'data');
}

function migrateStore(direction: string, dataDir: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'store', 'migrate-store.js'), direction], {
    env: { PATH: process.env.PATH, DATA_DIR: dataDir, DATABASE_URL: db.url },
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('migrate-store', () => {
  it('files → PostgreSQL → files keeps every login and token', async () => {
    const ids = ['m-alice', 'm-bob'];
    const phones = new Map(ids.map((id) => [id, uniquePhone('1562')]));
    const filesDir = freshDataDir();
    const env = { SESSION_ENCRYPTION_KEY: KEY, API_TOKEN: TOKEN };
    const files = await sandbox.service({ dataDir: filesDir, env });
    for (const id of ids) {
      expect((await files.request('POST', '/api/accounts', { id })).status).toBe(201);
      sandbox.dc.controls.createUser({ phone: phones.get(id)! });
      await loginThrough(files, sandbox.dc, phones.get(id)!, undefined, id);
    }
    const scoped = await files.request('POST', '/api/accounts/m-alice/tokens', {});
    expect(scoped.status).toBe(201);
    expect(await files.stop()).toBe(0);
    const keys = sandbox.dc.controls.listAuthKeys().length;

    const toDb = migrateStore('files-to-postgres', filesDir);
    expect(toDb.status, toDb.stderr).toBe(0);
    expect(toDb.stdout).toContain('2 accounts copied');
    // Again: nothing is overwritten, nothing copied twice.
    expect(migrateStore('files-to-postgres', filesDir).stdout).toContain('0 accounts copied, 2 left as they were');

    const clustered = await sandbox.service({ env: { ...env, STORE: 'postgres', DATABASE_URL: db.url, INSTANCE_ID: 'm1', LEASE_TTL: '5s' } });
    for (const id of ids) await waitForStatus(clustered, valid, `${id} valid from PostgreSQL`, { account: id });
    expect((await clustered.request('GET', '/api/accounts/m-alice/status', undefined, { token: scoped.body.token })).status).toBe(200);
    // A migration refuses to run while an instance is live on the database.
    const refused = migrateStore('postgres-to-files', freshDataDir());
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('instances are running');
    expect(await clustered.stop()).toBe(0);

    const backDir = freshDataDir();
    const back = migrateStore('postgres-to-files', backDir);
    expect(back.status, back.stderr).toBe(0);
    expect(back.stdout).toContain('2 accounts copied');
    const filesAgain = await sandbox.service({ dataDir: backDir, env });
    for (const id of ids) {
      await waitForStatus(filesAgain, valid, `${id} valid from files again`, { account: id });
      expect((await filesAgain.request('GET', `/api/accounts/${id}/me`)).body.phone).toBe(phones.get(id));
    }
    expect((await filesAgain.request('GET', '/api/accounts/m-alice/status', undefined, { token: scoped.body.token })).status).toBe(200);
    expect(sandbox.dc.controls.listAuthKeys().length).toBe(keys); // no new login anywhere
    // The session files are the same bytes as at the start: still encrypted with the same key.
    for (const id of ids) {
      const before = fs.readFileSync(path.join(filesDir, 'accounts', id, 'session.json'));
      const after = fs.readFileSync(path.join(backDir, 'accounts', id, 'session.json'));
      expect(after.equals(before)).toBe(true);
      expect(JSON.parse(after.toString('utf8'))).toHaveProperty('encrypted');
    }
    expect(await filesAgain.stop()).toBe(0);
  }, 120_000);
});
