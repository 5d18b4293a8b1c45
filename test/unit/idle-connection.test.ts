/**
 * An idle client's connection, once the server closes it, stays closed until the next request
 * (telegram/idle-connection.ts): the policy on its own, then a real account against a real sandbox DC.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdleConnection } from '../../src/telegram/idle-connection.js';
import { keysOf, loggedInService, startDc, tempDir, TEST_PHONE, waitFor, type SandboxDc } from './account.harness.js';

const usual = (previousWait: number | null): number => (previousWait === null ? 0 : 1000);

describe('idle connection policy', () => {
  it('a connection closed while no request is under way waits for the next request, which wakes it', () => {
    const idle = new IdleConnection(usual);
    let woken = 0;
    idle.attach(
      () => woken++,
      () => undefined,
    );
    expect(idle.strategy({ previousWait: null })).toBeGreaterThanOrEqual(60 * 60 * 1000);
    idle.begin();
    expect(woken).toBe(1);
    idle.end();
    idle.begin(); // awake already: no second wake
    expect(woken).toBe(1);
    idle.end();
  });

  it('reconnects as usual while a request is under way, and after a failed attempt (an outage)', () => {
    const idle = new IdleConnection(usual);
    idle.attach(
      () => undefined,
      () => undefined,
    );
    idle.begin();
    expect(idle.strategy({ previousWait: null })).toBe(0);
    idle.end();
    expect(idle.strategy({ previousWait: 0 })).toBe(1000);
    expect(idle.strategy({ previousWait: 1000 })).toBe(1000);
  });

  it('does not wake a connection mtcute has opened again on its own', () => {
    const idle = new IdleConnection(usual);
    let woken = 0;
    let connected: () => void = () => undefined;
    idle.attach(
      () => woken++,
      (listener) => (connected = listener),
    );
    idle.strategy({ previousWait: null });
    connected();
    idle.begin();
    expect(woken).toBe(0);
  });

  it('before it is attached to a client, reconnects as usual', () => {
    expect(new IdleConnection(usual).strategy({ previousWait: null })).toBe(0);
  });
});

describe('an idle account against the sandbox DC', () => {
  let dcHandle: Awaited<ReturnType<typeof startDc>>;
  let dc: SandboxDc;
  beforeAll(async () => {
    dcHandle = await startDc();
    dc = dcHandle.dc;
  });
  afterAll(async () => {
    await dcHandle.close();
  });

  it('the DC drops the connection seconds after a request; it stays closed, and the next request opens it again', async () => {
    const dir = tempDir('acct-idle');
    const sut = await loggedInService(dir, dc);
    try {
      const keyId = keysOf(dc, TEST_PHONE).at(-1)!.authKeyId;
      const connections = () => dc.controls.listSessions().filter((s) => s.authKeyId === keyId).reduce((n, s) => n + s.connections, 0);
      await sut.service.me();
      expect(connections()).toBeGreaterThan(0);
      // mtcute asked the DC (ping_delay_disconnect) to close the connection ~7 s after the request.
      await waitFor(() => connections() === 0, 'the connection closed by the DC', 20_000);
      await new Promise((r) => setTimeout(r, 1500));
      expect(connections()).toBe(0); // not reopened by mtcute while nothing asks
      expect((await sut.service.me()).phone).toBe(TEST_PHONE);
      expect(connections()).toBeGreaterThan(0);
      expect(sut.service.status().session.connection).toBe('online');
    } finally {
      await sut.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
