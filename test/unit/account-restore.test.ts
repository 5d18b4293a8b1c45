/**
 * AccountService across restarts (a new service instance on the same data directory) and under DC faults:
 * restore, a login in progress, expiry, recovery that fails and that succeeds, revocation, DC down.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  dcPerFile,
  filesOf,
  keysOf,
  orderOf,
  startAccount,
  tempDir,
  TEST_CODE,
  TEST_PHONE,
  waitFor,
  type ServiceUnderTest,
} from './account.harness.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const sandbox = dcPerFile();

let phoneCounter = 0;
/** A line of the account's reconnect backoff ("Retrying Telegram connection (attempt N) in X ms"). */
function isTelegramRetry(l: { msg: string; attempt?: unknown; delayMs?: unknown }): boolean {
  return l.msg === LOG_MESSAGES.retrying(LOG_MESSAGES.telegramConnection, Number(l.attempt), Number(l.delayMs));
}

function uniquePhone(): string {
  phoneCounter += 1;
  return `+1556${String(process.pid % 1000).padStart(3, '0')}${String(phoneCounter).padStart(4, '0')}`;
}

/** A data dir with a completed login for a fresh account (service stopped again); returns dir and phone. */
async function loggedInDir(): Promise<{ dir: string; phone: string; userId: number }> {
  const dir = tempDir('acct-restore');
  sandbox.cleanup(async () => rmSync(dir, { recursive: true, force: true }));
  const phone = uniquePhone();
  sandbox.dc.controls.createUser({ phone, firstName: 'Restore' });
  const sut = await startAccount(dir, sandbox.dc);
  await sut.service.sendCode(phone);
  const done = await sut.service.verifyCode(sandbox.dc.controls.lastCode(phone)!);
  if (done.state !== 'authenticated') throw new Error('login failed');
  await sut.stop();
  return { dir, phone, userId: done.user.id };
}

async function restart(dir: string, overrides = {}): Promise<ServiceUnderTest> {
  const sut = await startAccount(dir, sandbox.dc, overrides);
  sandbox.cleanup(() => sut.stop()); // runs before the directory's removal (cleanups run last-in first)
  return sut;
}

describe('AccountService across restarts', () => {
  it('restores a session without a login: authenticated at once (validation pending), then valid and the restore line', async () => {
    const { dir, phone, userId } = await loggedInDir();
    const keysBefore = keysOf(sandbox.dc, phone).map((k) => k.authKeyId);
    const sut = await restart(dir);

    const first = sut.service.status();
    expect(first.state).toBe('authenticated');
    expect(first.session.restored).toBe(true);
    expect(['pending', 'valid']).toContain(first.session.validation);
    expect(first.user?.id).toBe(userId);

    await waitFor(() => sut.service.status().session.validation === 'valid', 'validation valid');
    expect(sut.service.status().session.connection).toBe('online');
    expect(sut.service.status().user?.firstName).toBe('Restore');
    expect(sut.messages()).toContain(LOG_MESSAGES.sessionRestored);
    expect(sut.messages()).not.toContain(LOG_MESSAGES.recoveryAttempt);
    expect((await sut.service.me()).id).toBe(userId);
    // Same key, no new login at the DC.
    expect(keysOf(sandbox.dc, phone).map((k) => k.authKeyId)).toEqual(keysBefore);
  });

  it('a stale login in progress next to a completed login (kill between the two writes) is cleared at restore', async () => {
    const { dir, phone } = await loggedInDir();
    const file = path.join(dir, 'session.json');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    doc.pendingLogin = { phone, phoneCodeHash: 'stale-hash', dcId: 2, codeType: 'app', codeLength: 5, sentAt: new Date().toISOString() };
    writeFileSync(file, JSON.stringify(doc));
    const sut = await startAccount(dir, sandbox.dc);
    sandbox.cleanup(() => sut.stop());
    expect(sut.service.status().state).toBe('authenticated');
    expect(sut.store.meta()?.pendingLogin).toBeUndefined();
    // On disk too: an interrupted logout later must not bring the old login back as code_sent.
    expect(JSON.parse(readFileSync(file, 'utf8')).pendingLogin).toBeUndefined();
  });

  it('a login in progress survives a restart: verify-code after restart works', async () => {
    const dir = tempDir('acct-pending');
    sandbox.cleanup(async () => rmSync(dir, { recursive: true, force: true }));
    const before = await startAccount(dir, sandbox.dc);
    await before.service.sendCode(TEST_PHONE);
    await before.stop();

    const after = await restart(dir);
    expect(after.service.status().state).toBe('code_sent');
    const done = await after.service.verifyCode(TEST_CODE);
    expect(done.state).toBe('authenticated');
    expect(filesOf(dir)).toEqual({ session: true, authState: true });
  });

  it('a 2FA login survives a restart between verify-code and verify-password', async () => {
    const dir = tempDir('acct-pending2fa');
    sandbox.cleanup(async () => rmSync(dir, { recursive: true, force: true }));
    const phone = uniquePhone();
    sandbox.dc.controls.createUser({ phone, firstName: 'Pw', password: 'pw-across-restart' });
    const before = await startAccount(dir, sandbox.dc);
    await before.service.sendCode(phone);
    expect((await before.service.verifyCode(sandbox.dc.controls.lastCode(phone)!)).state).toBe('password_required');
    await before.stop();

    const after = await restart(dir);
    expect(after.service.status().state).toBe('password_required');
    expect((await after.service.verifyPassword('pw-across-restart')).state).toBe('authenticated');
  });

  it('an auth state older than SESSION_MAX_IDLE → expired, files kept', async () => {
    const { dir, phone } = await loggedInDir();
    await new Promise((r) => setTimeout(r, 20));
    const sut = await restart(dir, { sessionMaxIdleMs: 10 });
    const status = sut.service.status();
    expect(status.state).toBe('expired');
    expect(status.authenticated).toBe(false);
    expect(filesOf(dir)).toEqual({ session: true, authState: true });
    expect(sut.messages()).not.toContain(LOG_MESSAGES.sessionRestored);
    // A new login from expired works, and the old authorization does not linger at the DC.
    expect(keysOf(sandbox.dc, phone)).toHaveLength(1);
    await sut.service.sendCode(TEST_PHONE);
    expect(keysOf(sandbox.dc, phone)).toHaveLength(0);
    expect((await sut.service.verifyCode(TEST_CODE)).state).toBe('authenticated');
  });

  it('key revoked while the service was down → recovery tried and failed → logged_out, auth state cleared', async () => {
    const { dir, phone } = await loggedInDir();
    const [key] = keysOf(sandbox.dc, phone);
    sandbox.dc.controls.revokeAuthKey(key!.authKeyId);

    const sut = await restart(dir);
    expect(sut.service.status().state).toBe('authenticated');
    await waitFor(() => sut.service.status().state === 'logged_out', 'logged_out after failed recovery');
    const status = sut.service.status();
    expect(status.reason).toBe('AUTH_KEY_UNREGISTERED');
    expect(filesOf(dir).authState).toBe(false);
    expect(sut.store.hasSession()).toBe(false);
    const [attempting, failed] = orderOf(sut.messages(), [LOG_MESSAGES.recoveryAttempt, LOG_MESSAGES.recoveryFailed]);
    expect(attempting).toBeGreaterThanOrEqual(0);
    expect(failed).toBeGreaterThan(attempting!);
    expect(sut.messages()).not.toContain(LOG_MESSAGES.recoverySucceeded);
    expect(sut.messages()).not.toContain(LOG_MESSAGES.sessionRestored);
  });

  it('a transient AUTH_KEY_UNREGISTERED at start-up → recovery succeeds, the session stays, then the restore line', async () => {
    const { dir, phone } = await loggedInDir();
    sandbox.dc.controls.injectError('users.getUsers', { code: 401, message: 'AUTH_KEY_UNREGISTERED' }, 1);

    const sut = await restart(dir);
    await waitFor(() => sut.service.status().session.validation === 'valid', 'valid after recovery');
    expect(sut.service.status().state).toBe('authenticated');
    expect(filesOf(dir)).toEqual({ session: true, authState: true });
    const [attempting, recovered, restored] = orderOf(sut.messages(), [LOG_MESSAGES.recoveryAttempt, LOG_MESSAGES.recoverySucceeded, LOG_MESSAGES.sessionRestored]);
    expect(attempting).toBeGreaterThanOrEqual(0);
    expect(recovered).toBeGreaterThan(attempting!);
    expect(restored).toBeGreaterThan(recovered!);
    expect(sut.messages()).not.toContain(LOG_MESSAGES.recoveryFailed);
    expect(keysOf(sandbox.dc, phone)).toHaveLength(1);
  });

  it('AUTH_KEY_UNREGISTERED on a later call (me) → recovery; revoked for real → logged_out', async () => {
    const { dir, phone } = await loggedInDir();
    const sut = await restart(dir);
    await waitFor(() => sut.service.status().session.validation === 'valid', 'valid');
    sandbox.dc.controls.revokeAuthKey(keysOf(sandbox.dc, phone)[0]!.authKeyId);
    await expect(sut.service.me()).rejects.toMatchObject({ code: 'NOT_AUTHENTICATED' });
    expect(sut.service.status()).toMatchObject({ state: 'logged_out', reason: 'AUTH_KEY_UNREGISTERED' });
    expect(orderOf(sut.messages(), [LOG_MESSAGES.recoveryAttempt, LOG_MESSAGES.recoveryFailed]).every((i) => i >= 0)).toBe(true);
    expect(filesOf(dir).authState).toBe(false);
  });

  it('SESSION_REVOKED (terminated from another device) → revoked with the reason, dead key and auth state cleared', async () => {
    const { dir, phone } = await loggedInDir();
    sandbox.dc.controls.terminateSession(keysOf(sandbox.dc, phone)[0]!.authKeyId);
    const sut = await restart(dir);
    await waitFor(() => sut.service.status().state === 'revoked', 'revoked');
    expect(sut.service.status().reason).toBe('SESSION_REVOKED');
    expect(filesOf(dir).authState).toBe(false);
    expect(sut.store.hasSession()).toBe(false);
  });

  it('USER_DEACTIVATED mid-operation → revoked', async () => {
    const { dir, phone } = await loggedInDir();
    const sut = await restart(dir);
    await waitFor(() => sut.service.status().session.validation === 'valid', 'valid');
    sandbox.dc.controls.deactivateUser(phone);
    await expect(sut.service.me()).rejects.toMatchObject({ code: 'SESSION_REVOKED' });
    expect(sut.service.status()).toMatchObject({ state: 'revoked', reason: 'USER_DEACTIVATED' });
    expect(filesOf(dir).authState).toBe(false);
  });

  it('DC down at start-up → authenticated + offline, retries logged; DC back → valid without a new login', async () => {
    const { dir, phone } = await loggedInDir();
    const keysBefore = keysOf(sandbox.dc, phone).map((k) => k.authKeyId);
    await sandbox.dc.controls.stopListening();
    let sut: ServiceUnderTest;
    try {
      sut = await restart(dir, { clientReadyTimeoutMs: 700, retryMaxDelayMs: 300 });
      expect(sut.service.status().state).toBe('authenticated');
      await waitFor(() => sut.service.status().session.connection === 'offline', 'offline');
      await waitFor(() => sut.lines.filter(isTelegramRetry).length >= 2, 'two retries logged');
      const status = sut.service.status();
      expect(status.state).toBe('authenticated');
      expect(status.session.validation).toBe('pending');
      expect(filesOf(dir)).toEqual({ session: true, authState: true });
      const retry = sut.lines.find(isTelegramRetry)!;
      expect(retry).toMatchObject({ attempt: 1 });
      expect(typeof retry.delayMs).toBe('number');
    } finally {
      await sandbox.dc.controls.startListening();
    }
    await waitFor(() => sut.service.status().session.validation === 'valid', 'valid after the DC returned', 30_000);
    expect(sut.service.status().session.connection).toBe('online');
    expect(sut.messages()).toContain(LOG_MESSAGES.sessionRestored);
    expect(sut.messages()).not.toContain(LOG_MESSAGES.recoveryAttempt);
    expect(keysOf(sandbox.dc, phone).map((k) => k.authKeyId)).toEqual(keysBefore);
  });

  it('network trouble on a later call keeps the session: offline, then valid again', async () => {
    const { dir } = await loggedInDir();
    const sut = await restart(dir, { clientReadyTimeoutMs: 600, retryMaxDelayMs: 300 });
    await waitFor(() => sut.service.status().session.validation === 'valid', 'valid');
    sandbox.dc.controls.setAnswerDelay(3000);
    try {
      await expect(sut.service.me()).rejects.toMatchObject({ code: 'TELEGRAM_UNAVAILABLE' });
      expect(sut.service.status()).toMatchObject({ state: 'authenticated', session: { connection: 'offline' } });
    } finally {
      sandbox.dc.controls.setAnswerDelay(0);
    }
    await waitFor(() => sut.service.status().session.connection === 'online', 'online again', 30_000);
    expect(sut.service.status().state).toBe('authenticated');
    expect(filesOf(dir)).toEqual({ session: true, authState: true });
  });

  it('AUTH_KEY_DUPLICATED and USER_DEACTIVATED_BAN → revoked with that reason', async () => {
    for (const reason of ['AUTH_KEY_DUPLICATED', 'USER_DEACTIVATED_BAN']) {
      const { dir } = await loggedInDir();
      sandbox.dc.controls.injectError('users.getUsers', { code: reason === 'AUTH_KEY_DUPLICATED' ? 406 : 401, message: reason }, 1);
      const sut = await restart(dir);
      await waitFor(() => sut.service.status().state === 'revoked', `revoked by ${reason}`);
      expect(sut.service.status().reason).toBe(reason);
      expect(filesOf(dir).authState).toBe(false);
      expect(sut.store.hasSession()).toBe(false);
    }
  });

  it('a key the DC forgot entirely (transport -404) → recovery fails → logged_out, no crash, no hang', async () => {
    const { dir, phone } = await loggedInDir();
    sandbox.dc.controls.forgetAuthKey(keysOf(sandbox.dc, phone)[0]!.authKeyId);
    const sut = await restart(dir);
    await waitFor(() => sut.service.status().state === 'logged_out', 'logged_out', 30_000);
    expect(orderOf(sut.messages(), [LOG_MESSAGES.recoveryAttempt, LOG_MESSAGES.recoveryFailed]).every((i) => i >= 0)).toBe(true);
    expect(filesOf(dir).authState).toBe(false);
    // And the user can log in again on the same service.
    await sut.service.sendCode(TEST_PHONE);
    expect((await sut.service.verifyCode(TEST_CODE)).state).toBe('authenticated');
  });

  it('an account homed on DC 1: PHONE_MIGRATE during login, pending login and session restored on DC 1', async () => {
    const dir = tempDir('acct-migrate');
    sandbox.cleanup(async () => rmSync(dir, { recursive: true, force: true }));
    const phone = uniquePhone();
    sandbox.dc.controls.createUser({ phone, firstName: 'Mig', homeDc: 1 });
    const first = await startAccount(dir, sandbox.dc);
    await first.service.sendCode(phone);
    expect(first.store.meta()?.pendingLogin?.dcId).toBe(1);
    await first.stop();

    const second = await startAccount(dir, sandbox.dc);
    expect(second.service.status().state).toBe('code_sent');
    expect((await second.service.verifyCode(sandbox.dc.controls.lastCode(phone)!)).state).toBe('authenticated');
    await second.stop();

    const third = await restart(dir);
    await waitFor(() => third.service.status().session.validation === 'valid', 'valid on DC 1');
    expect(keysOf(sandbox.dc, phone).map((k) => k.dcId)).toEqual([1]);
  });
});
