/**
 * src/telegram/idle-ping.ts against the sandbox DC over TCP: an unmodified mtcute client that made a request
 * and then goes idle keeps its connection with the fix, and (the control, which shows the test can fail)
 * loses it ~7 s later without it — the DC closes it as ping_delay_disconnect asks. If an mtcute update
 * changes what the fix hooks, install() throws or the first case fails.
 */
import type { TelegramClient } from '@mtcute/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginSandboxClient, sandboxClient, startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { installIdlePing } from '../../src/telegram/idle-ping.js';

/** Longer than the 7 s the DC waits after the last short-delay ping, with room for a busy machine. */
const IDLE_MS = 11_000;

let dc: TestSandbox;
beforeAll(async () => {
  dc = await startTestSandbox();
});
afterAll(async () => {
  await dc?.dispose();
});

/** A logged-in client (updates on, mtcute's defaults) that made a request, then idles; counts its reconnects. */
async function reconnectsWhileIdle(phone: string): Promise<number> {
  const client: TelegramClient = await sandboxClient(dc);
  try {
    await loginSandboxClient(client, dc, phone);
    await client.getMe();
    let reconnects = 0;
    client.onConnectionState.add((state) => {
      if (state === 'connecting') reconnects++;
    });
    await client.getMe(); // a request: mtcute pings with the short disconnect delay while it is pending
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    return reconnects;
  } finally {
    await client.destroy();
  }
}

describe('idle mtcute connections', () => {
  it('stay open with the idle ping installed; without it (control) the DC closes them ~7 s after the last request', async () => {
    const uninstall = installIdlePing();
    expect(installIdlePing()).toBe(uninstall); // once per process
    let withFix: number;
    try {
      withFix = await reconnectsWhileIdle('+9996620001');
    } finally {
      uninstall();
    }
    const without = await reconnectsWhileIdle('+9996620002');
    expect(withFix).toBe(0);
    expect(without).toBeGreaterThanOrEqual(1);
    installIdlePing(); // leave the process as the service has it
  }, 60_000);
});
