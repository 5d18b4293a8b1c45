/**
 * The idle health probe (account.ts armProbe) against the sandbox DC over TCP: an idle logged-in account whose
 * connection answers mtcute's pings is not probed (the pongs prove the connection works); one whose pings
 * are rare is probed every interval — the control, which shows the first case can fail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { loggedInService, tempDir } from './account.harness.js';

/** The probe interval under test; mtcute pings every 300 ms plus its own 0–5 s per connection, well inside. */
const PROBE_MS = 8_000;
const WINDOW_MS = 3 * PROBE_MS + 2_000;

let dc: TestSandbox;
beforeAll(async () => {
  dc = await startTestSandbox();
});
afterAll(async () => {
  await dc?.dispose();
});

async function probesWhileIdle(phone: string, pingIntervalMs: number | undefined): Promise<number> {
  let probes = 0;
  const sut = await loggedInService(
    tempDir('account-probe'),
    dc,
    {},
    {
      probeIntervalMs: () => PROBE_MS,
      observer: { validation: () => void probes++ },
      ...(pingIntervalMs ? { connections: { pingIntervalMs } } : {}),
    },
    phone,
  );
  try {
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    expect(sut.service.status()).toMatchObject({ state: 'authenticated', session: { connection: 'online', validation: 'valid' } });
    return probes;
  } finally {
    await sut.stop();
  }
}

describe('the idle health probe', () => {
  it('is not sent while the connection answers pings; without pongs in the interval (control) it is, every interval', async () => {
    const [answering, control] = await Promise.all([probesWhileIdle('+9996620021', 300), probesWhileIdle('+9996620022', undefined)]);
    expect(answering).toBe(0);
    expect(control).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
