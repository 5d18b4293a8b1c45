/**
 * Faults injected at the sandbox DC while a session is authenticated: internal errors, dropped connections,
 * slow answers, flood waits, transient AUTH_KEY_UNREGISTERED. None of them may log the user out or touch
 * the files; after each, the session is `valid` again.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountError } from '../../src/account/types.js';
import { filesOf, startAccount, tempDir, TEST_CODE, TEST_PHONE, waitFor } from './account.harness.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';

let dc: TestSandbox;
beforeAll(async () => {
  dc = await startTestSandbox();
});
afterAll(async () => {
  await dc.dispose();
});

describe('faults never log the user out', () => {
  it('a run of mixed faults on getMe: no false log-out, files intact, valid again after each', async () => {
    const dir = tempDir('acct-faults');
    // Log in with the default timeout (the key exchange is the slow part), then restart with short ones.
    const login = await startAccount(dir, dc);
    await login.service.sendCode(TEST_PHONE);
    await login.service.verifyCode(TEST_CODE);
    await login.stop();
    const sut = await startAccount(dir, dc, { clientReadyTimeoutMs: 800, retryMaxDelayMs: 200 });
    try {
      await waitFor(() => sut.service.status().session.validation === 'valid', 'valid');

      const faults: Array<{ name: string; inject: () => void | Promise<void>; clear?: () => void | Promise<void> }> = [
        { name: '500 INTERNAL x3', inject: () => dc.controls.injectError('users.getUsers', { code: 500, message: 'INTERNAL' }, 3) },
        { name: 'dropped connections', inject: () => dc.controls.dropConnections() },
        { name: 'slow answers', inject: () => dc.controls.setAnswerDelay(1500), clear: () => dc.controls.setAnswerDelay(0) },
        { name: 'transient AUTH_KEY_UNREGISTERED', inject: () => dc.controls.injectError('users.getUsers', { code: 401, message: 'AUTH_KEY_UNREGISTERED' }, 1) },
        { name: 'FLOOD_WAIT_1', inject: () => dc.controls.injectFloodWait('users.getUsers', 1, 1) },
        { name: 'RPC_CALL_FAIL', inject: () => dc.controls.injectError('users.getUsers', { code: 500, message: 'RPC_CALL_FAIL' }, 1) },
      ];
      let injected = 0;
      for (let round = 0; round < 3; round++) {
        for (const fault of faults) {
          await fault.inject();
          injected++;
          const outcome = await sut.service.me().then(
            () => 'ok',
            (e: unknown) => (e instanceof AccountError ? e.code : 'crash'),
          );
          expect(['ok', 'TELEGRAM_UNAVAILABLE', 'FLOOD_WAIT'], `${fault.name}: ${outcome}`).toContain(outcome);
          await fault.clear?.();
          expect(sut.service.status().state, fault.name).toBe('authenticated');
          expect(filesOf(dir), fault.name).toEqual({ session: true, authState: true });
          // Back to normal: me() answers again (after a flood wait, once it has passed).
          const deadline = Date.now() + 15_000;
          for (;;) {
            const ok = await sut.service.me().then(
              () => true,
              () => false,
            );
            if (ok) break;
            if (Date.now() > deadline) throw new Error(`not valid again after ${fault.name}`);
            await new Promise((r) => setTimeout(r, 200));
          }
          expect(sut.service.status().session).toMatchObject({ validation: 'valid', connection: 'online' });
        }
      }
      expect(injected).toBe(18);
      expect(sut.messages()).not.toContain(LOG_MESSAGES.recoveryFailed);
      const falseLogouts = sut.lines.filter((l) => (l.msg === LOG_MESSAGES.accountState('logged_out') || l.msg === LOG_MESSAGES.accountState('revoked')) && l.from !== 'start-up');
      expect(falseLogouts).toHaveLength(0);
    } finally {
      dc.controls.clearInjectedErrors();
      dc.controls.setAnswerDelay(0);
      await sut.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('calls racing with a revocation', () => {
  it('20 concurrent calls run into SESSION_REVOKED: all answer it, and no call builds a client that writes a new key where the dead one was removed', async () => {
    const dir = tempDir('acct-revoke-race');
    const sut = await startAccount(dir, dc, { clientReadyTimeoutMs: 5000 });
    try {
      await sut.service.sendCode(TEST_PHONE);
      await sut.service.verifyCode(TEST_CODE);
      for (const key of dc.controls.authKeysOfUser(TEST_PHONE)) dc.controls.terminateSession(key.authKeyId);
      // Calls started a few ms apart with slow answers: some are in flight on the old client while the
      // first one's revocation drops it and clears the files.
      dc.controls.setAnswerDelay(60);
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 20; i++) {
        calls.push(sut.service.me());
        await new Promise((r) => setTimeout(r, 7));
      }
      const answers = await Promise.allSettled(calls);
      dc.controls.setAnswerDelay(0);
      for (const answer of answers) {
        expect(answer.status).toBe('rejected');
        expect((answer as PromiseRejectedResult).reason).toMatchObject({ code: 'SESSION_REVOKED' });
      }
      expect(sut.service.status().state).toBe('revoked');
      // Give any stray client time to make a key exchange, then look at what the store holds.
      await new Promise((r) => setTimeout(r, 1500));
      expect(sut.store.hasSession()).toBe(false);
      expect(filesOf(dir)).toEqual({ session: false, authState: false });
    } finally {
      await sut.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
