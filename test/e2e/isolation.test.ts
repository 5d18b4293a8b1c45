/**
 * One account's trouble never touches another, through the real process and a real sandbox DC: a corrupt
 * file, a revocation, a flood wait and a persistence error in one account leave the others' state, files
 * and answers exactly as they were.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { accountDir, accountFile } from '../helpers/layout.js';
import { loginThrough, status, uniquePhone, waitForStatus } from '../helpers/sandbox-service.js';
import { sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';

const sandbox = sandboxPerFile();
const IDS = ['one', 'two', 'three'];

/** Three accounts, each logged in as its own user. */
async function threeLoggedIn(): Promise<{ svc: ServiceProcess; phones: Record<string, string> }> {
  const dc = sandbox.dc;
  const svc = await sandbox.service();
  const phones: Record<string, string> = {};
  for (const id of IDS) {
    expect((await svc.request('POST', '/api/accounts', { id })).status).toBe(201);
    phones[id] = uniquePhone();
    dc.controls.createUser({ phone: phones[id]! });
    await loginThrough(svc, dc, phones[id]!, undefined, id);
  }
  return { svc, phones };
}

function filesOf(svc: ServiceProcess, id: string): string {
  return ['session.json', 'auth_state.json'].map((name) => fs.readFileSync(accountFile(svc.dataDir, name, id)).toString('base64')).join('|');
}

async function expectUntouched(svc: ServiceProcess, ids: string[], phones: Record<string, string>, files: Map<string, string>): Promise<void> {
  for (const id of ids) {
    const body = await status(svc, id);
    expect(body, id).toMatchObject({ id, state: 'authenticated', session: { validation: 'valid' } });
    expect(body.persistenceError, id).toBeUndefined();
    expect((await svc.request('GET', `/api/accounts/${id}/me`)).body.phone, id).toBe(phones[id]);
    expect(filesOf(svc, id), `${id}'s files`).toBe(files.get(id));
  }
}

describe('isolation between accounts (real process)', () => {
  it("a corrupt session.json in one account at start: that account starts logged out, the others restore as always", async () => {
    const { svc, phones } = await threeLoggedIn();
    expect(await svc.stop()).toBe(0);
    for (const name of ['session.json', 'session.json.bak']) fs.writeFileSync(accountFile(svc.dataDir, name, 'one'), 'garbage{');
    const files = new Map(['two', 'three'].map((id) => [id, filesOf(svc, id)]));
    const again = await sandbox.service({ dataDir: svc.dataDir });
    expect((await status(again, 'one')).state).toBe('logged_out');
    for (const id of ['two', 'three']) await waitForStatus(again, (b) => b.session.validation === 'valid', `${id} valid`, { account: id });
    await expectUntouched(again, ['two', 'three'], phones, files);
  });

  it('a revocation of one account at the DC: that account is revoked; the others stay valid', async () => {
    const dc = sandbox.dc;
    const { svc, phones } = await threeLoggedIn();
    const files = new Map(['one', 'three'].map((id) => [id, filesOf(svc, id)]));
    for (const key of dc.controls.authKeysOfUser(phones.two!)) dc.controls.terminateSession(key.authKeyId);
    const me = await svc.request('GET', '/api/accounts/two/me');
    expect(me.body.error.code).toBe('SESSION_REVOKED');
    expect((await status(svc, 'two')).state).toBe('revoked');
    await expectUntouched(svc, ['one', 'three'], phones, files);
  });

  it("a flood wait earned by one account's login does not hold back another account's login", async () => {
    const dc = sandbox.dc;
    const svc = await sandbox.service();
    for (const id of ['waits', 'free']) await svc.request('POST', '/api/accounts', { id });
    const [a, b] = [uniquePhone(), uniquePhone()];
    for (const phone of [a, b]) dc.controls.createUser({ phone });
    dc.controls.injectFloodWait('auth.sendCode', 120, 1);
    const waited = await svc.request('POST', '/api/accounts/waits/auth/send-code', { phone: a });
    expect(waited.status).toBe(429);
    expect(waited.body.error.code).toBe('FLOOD_WAIT');
    expect((await status(svc, 'waits')).floodWaitUntil).toBeDefined();
    // Another account: its own deadlines (none), its own login.
    expect(await loginThrough(svc, dc, b, undefined, 'free')).toMatchObject({ state: 'authenticated' });
    expect((await status(svc, 'free')).floodWaitUntil).toBeUndefined();
    // The account that earned the wait still honours it, without asking the DC.
    expect((await svc.request('POST', '/api/accounts/waits/auth/send-code', { phone: a })).status).toBe(429);
  });

  it("a persistence error in one account (its directory read-only) is that account's alone", async () => {
    const { svc, phones } = await threeLoggedIn();
    const files = new Map(['one', 'two'].map((id) => [id, filesOf(svc, id)]));
    // A read-only bind mount over one account's directory: a real EROFS for its writes, and only its.
    const dir = accountDir(svc.dataDir, 'three');
    execFileSync('mount', ['--bind', dir, dir]);
    try {
      execFileSync('mount', ['-o', 'remount,ro,bind', dir]);
      const logout = await svc.request('POST', '/api/accounts/three/auth/logout');
      expect(logout.body.state).toBe('logged_out'); // from memory; the files cannot go yet
      expect((await status(svc, 'three')).persistenceError).toMatchObject({ code: 'EROFS' });
      // A registry change the store refuses: a clear 503 that says nothing was changed, never a 500.
      const token = await svc.request('POST', '/api/accounts/three/tokens');
      expect(token.status).toBe(503);
      expect(token.body.error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', message: expect.stringMatching(/EROFS.*nothing was changed/) });
      await expectUntouched(svc, ['one', 'two'], phones, files);
    } finally {
      unmount(dir);
    }
    // Writable again: the pending removal is carried out, and the error clears.
    await waitForStatus(svc, (b) => b.persistenceError === undefined, 'three writable again', { account: 'three', timeoutMs: 30_000 });
    expect(fs.existsSync(accountFile(svc.dataDir, 'auth_state.json', 'three'))).toBe(false);
  });
});

/** umount, retried while the kernel says busy (a write of the service in flight); lazily as the last resort. */
function unmount(dir: string): void {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      return;
    } catch {
      execFileSync('sleep', ['0.1']);
    }
  }
  execFileSync('umount', ['-l', dir]);
}
