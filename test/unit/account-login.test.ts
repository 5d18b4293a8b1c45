/**
 * AccountService login flows against a real sandbox DC over TCP and a real session store on disk.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AccountError } from '../../src/account/types.js';
import {
  dcPerFile,
  filesOf,
  keysOf,
  loggedInService,
  startAccount,
  tempDir,
  TEST_CODE,
  TEST_PHONE,
  type ServiceUnderTest,
} from './account.harness.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const sandbox = dcPerFile();

async function fresh(overrides = {}): Promise<{ sut: ServiceUnderTest; dir: string }> {
  const dir = tempDir('acct-login');
  const sut = await startAccount(dir, sandbox.dc, overrides);
  sandbox.cleanup(async () => {
    await sut.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { sut, dir };
}

async function expectAccountError(promise: Promise<unknown>, code: string): Promise<AccountError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected AccountError ${code}`).toBeInstanceOf(AccountError);
  expect((err as AccountError).code).toBe(code);
  return err as AccountError;
}

let phoneCounter = 0;
/** A phone number of our own per test, so accounts do not collide. */
function uniquePhone(): string {
  phoneCounter += 1;
  return `+1555${String(process.pid % 1000).padStart(3, '0')}${String(phoneCounter).padStart(4, '0')}`;
}

describe('AccountService login', () => {
  it('logs in by code: code_sent → authenticated, both files written, auth_state in the seed format', async () => {
    const { sut, dir } = await fresh();
    expect(sut.service.status().state).toBe('logged_out');

    const sent = await sut.service.sendCode(TEST_PHONE);
    expect(sent).toMatchObject({ state: 'code_sent', codeLength: 5 });
    if (sent.state !== 'code_sent') throw new Error('unreachable');
    expect(typeof sent.codeType).toBe('string');
    expect(sent.phone).toBe('+9996***1234');
    expect(sut.service.status().state).toBe('code_sent');

    const done = await sut.service.verifyCode(TEST_CODE);
    expect(done.state).toBe('authenticated');
    if (done.state !== 'authenticated') throw new Error('unreachable');
    expect(done.user.phone).toBe(TEST_PHONE);

    const status = sut.service.status();
    expect(status).toMatchObject({ state: 'authenticated', authenticated: true, environment: 'sandbox' });
    expect(status.session.validation).toBe('valid');
    expect(status.session.restored).toBe(false);
    expect(status.user?.phone).toBe('+9996***1234');

    expect(filesOf(dir)).toEqual({ session: true, authState: true });
    const authState = JSON.parse(readFileSync(join(dir, 'auth_state.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(authState).sort()).toEqual(['phone', 'saved_at', 'user_auth', 'user_id', 'version']);
    expect(authState).toMatchObject({ user_auth: true, user_id: done.user.id, phone: TEST_PHONE, version: '1.0' });

    const me = await sut.service.me();
    expect(me.id).toBe(done.user.id);

    // The state changes were logged with the masked phone, never the code.
    expect(sut.lines.some((l) => l.msg === LOG_MESSAGES.accountState('authenticated') && l.phone === '+9996***1234')).toBe(true);
    expect(sut.raw.join('\n')).not.toContain(TEST_CODE);
    expect(sut.raw.join('\n')).not.toContain('9996621234');
  });

  it('logs in with 2FA; a wrong password is refused and keeps password_required', async () => {
    const phone = uniquePhone();
    const password = 'correct horse battery staple';
    sandbox.dc.controls.createUser({ phone, firstName: 'Two', password, hint: 'the usual' });
    const { sut } = await fresh();

    await sut.service.sendCode(phone);
    const code = sandbox.dc.controls.lastCode(phone);
    expect(code).toMatch(/^\d{5}$/);
    const step = await sut.service.verifyCode(code!);
    expect(step).toEqual({ state: 'password_required', hint: 'the usual' });
    expect(sut.service.status().state).toBe('password_required');

    await expectAccountError(sut.service.verifyPassword('not the password'), 'PASSWORD_HASH_INVALID');
    expect(sut.service.status().state).toBe('password_required');

    const done = await sut.service.verifyPassword(password);
    expect(done.state).toBe('authenticated');
    expect(done.user.firstName).toBe('Two');
    expect(sut.service.status().state).toBe('authenticated');

    const log = sut.raw.join('\n');
    expect(log).not.toContain(password);
    expect(log).not.toContain('not the password');
    expect(log).not.toContain(code!);
  });

  it('a wrong code and an expired code are refused with 4xx codes and leave code_sent', async () => {
    const phone = uniquePhone();
    sandbox.dc.controls.createUser({ phone, firstName: 'Code' });
    const { sut } = await fresh();

    await sut.service.sendCode(phone);
    const right = sandbox.dc.controls.lastCode(phone)!;
    const wrong = right === '11111' ? '22222' : '11111';
    await expectAccountError(sut.service.verifyCode(wrong), 'PHONE_CODE_INVALID');
    expect(sut.service.status().state).toBe('code_sent');
    await expectAccountError(sut.service.verifyCode('   '), 'PHONE_CODE_EMPTY');
    expect(sut.service.status().state).toBe('code_sent');

    sandbox.dc.controls.setCodeLifetime(1);
    try {
      await sut.service.resendCode();
      await new Promise((r) => setTimeout(r, 50));
      await expectAccountError(sut.service.verifyCode(sandbox.dc.controls.lastCode(phone)!), 'PHONE_CODE_EXPIRED');
      expect(sut.service.status().state).toBe('code_sent');
    } finally {
      sandbox.dc.controls.setCodeLifetime(5 * 60 * 1000);
    }
    // A fresh code still works after the refusals.
    await sut.service.sendCode(phone);
    const done = await sut.service.verifyCode(sandbox.dc.controls.lastCode(phone)!);
    expect(done.state).toBe('authenticated');
  });

  it('refuses steps out of order and bad input without changing state', async () => {
    const { sut } = await fresh();
    await expectAccountError(sut.service.verifyCode('12345'), 'INVALID_STEP');
    await expectAccountError(sut.service.verifyPassword('x'), 'INVALID_STEP');
    await expectAccountError(sut.service.resendCode(), 'INVALID_STEP');
    await expectAccountError(sut.service.me(), 'NOT_AUTHENTICATED');
    await expectAccountError(sut.service.sendCode('not a phone'), 'PHONE_NUMBER_INVALID');
    await expectAccountError(sut.service.sendCode('+12'), 'PHONE_NUMBER_INVALID');
    expect(sut.service.status().state).toBe('logged_out');

    await sut.service.sendCode(TEST_PHONE);
    await expectAccountError(sut.service.verifyPassword('x'), 'INVALID_STEP');
    expect(sut.service.status().state).toBe('code_sent');
    await sut.service.verifyCode(TEST_CODE);
    await expectAccountError(sut.service.sendCode(TEST_PHONE), 'ALREADY_AUTHENTICATED');
    await expectAccountError(sut.service.verifyCode(TEST_CODE), 'INVALID_STEP');
    expect(sut.service.status().state).toBe('authenticated');
  });

  it('FLOOD_WAIT → AccountError FLOOD_WAIT with the seconds, deadline on disk, later calls fail fast, even after a restart', async () => {
    const { sut, dir } = await fresh();
    sandbox.dc.controls.injectFloodWait('auth.sendCode', 120, 1);
    const err = await expectAccountError(sut.service.sendCode(TEST_PHONE), 'FLOOD_WAIT');
    expect(err.retryAfterSeconds).toBe(120);
    const until = sut.store.meta()?.floodWaits?.['auth.sendCode'];
    expect(until).toBeGreaterThan(Date.now() + 100_000);
    expect(sut.service.status().floodWaitUntil).toBe(new Date(until!).toISOString());
    expect(sut.service.status().state).toBe('logged_out');

    // The DC would answer now (the injected error is used up): the service must not even ask.
    const again = await expectAccountError(sut.service.sendCode(TEST_PHONE), 'FLOOD_WAIT');
    expect(again.retryAfterSeconds).toBeGreaterThan(100);
    expect(again.retryAfterSeconds).toBeLessThanOrEqual(120);
    expect(sut.service.status().state).toBe('logged_out');

    await sut.stop();
    const restarted = await startAccount(dir, sandbox.dc);
    sandbox.cleanup(() => restarted.stop());
    const afterRestart = await expectAccountError(restarted.service.sendCode(TEST_PHONE), 'FLOOD_WAIT');
    expect(afterRestart.retryAfterSeconds).toBeGreaterThan(100);
  });

  it('logout logs out at the DC, removes the files and returns to logged_out', async () => {
    const dir = tempDir('acct-logout');
    const phone = uniquePhone();
    sandbox.dc.controls.createUser({ phone, firstName: 'Bye' });
    const sut = await startAccount(dir, sandbox.dc);
    sandbox.cleanup(async () => {
      await sut.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    await sut.service.sendCode(phone);
    await sut.service.verifyCode(sandbox.dc.controls.lastCode(phone)!);
    expect(keysOf(sandbox.dc, phone)).toHaveLength(1);

    expect(await sut.service.logout()).toEqual({ state: 'logged_out' });
    expect(sut.service.status().state).toBe('logged_out');
    expect(filesOf(dir).authState).toBe(false);
    expect(sut.store.hasSession()).toBe(false);
    expect(keysOf(sandbox.dc, phone)).toHaveLength(0);
    await expectAccountError(sut.service.me(), 'NOT_AUTHENTICATED');
  });

  it('logout with Telegram unreachable still removes the local session', async () => {
    const { sut: first, dir } = await fresh();
    await first.service.sendCode(TEST_PHONE);
    await first.service.verifyCode(TEST_CODE);
    await first.stop();
    sandbox.dc.controls.setAnswerDelay(5000);
    const sut = await startAccount(dir, sandbox.dc, { clientReadyTimeoutMs: 800 });
    sandbox.cleanup(() => sut.stop());
    try {
      expect(await sut.service.logout()).toEqual({ state: 'logged_out' });
    } finally {
      sandbox.dc.controls.setAnswerDelay(0);
    }
    expect(filesOf(dir).authState).toBe(false);
    expect(sut.store.hasSession()).toBe(false);
    expect(sut.messages().includes(LOG_MESSAGES.logoutAtTelegramFailed)).toBe(true);
  });

  it('concurrent send-code / verify-code / logout never corrupt state', async () => {
    const { sut, dir } = await fresh();
    const ops = await Promise.allSettled([
      sut.service.sendCode(TEST_PHONE),
      sut.service.verifyCode(TEST_CODE),
      sut.service.sendCode(TEST_PHONE),
      sut.service.logout(),
      sut.service.verifyCode(TEST_CODE),
      sut.service.verifyCode(TEST_CODE),
    ]);
    const rejections = ops.flatMap((op) => (op.status === 'rejected' ? [op.reason as unknown] : []));
    expect(rejections.filter((reason) => !(reason instanceof AccountError))).toEqual([]);
    const state = sut.service.status().state;
    expect(['logged_out', 'code_sent', 'authenticated']).toContain(state);
    // Whatever the interleaving, disk agrees with memory.
    expect(filesOf(dir).authState).toBe(state === 'authenticated');
  });

  it('a logged-in service needs no DC round trip for status', async () => {
    const dir = tempDir('acct-status');
    const sut = await loggedInService(dir, sandbox.dc);
    sandbox.cleanup(async () => {
      await sut.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const status = sut.service.status();
    expect(status.session.savedAt).toBeTruthy();
    expect(status.session.expiresAt).toBeTruthy();
    expect(Date.parse(status.session.expiresAt!) - Date.parse(status.session.savedAt!)).toBe(7 * 24 * 3600 * 1000);
  });
});
