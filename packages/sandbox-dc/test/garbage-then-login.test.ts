/**
 * Issue 2's proof: 10,000 garbage connections against the full sandbox DC leave it serving complete
 * logins (unmodified mtcute: key exchange, sendCode, signIn, getMe, a message) with flat memory.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { garbageConnections, settledHeap } from './helpers/garbage.js';
import { loginSandboxClient, sandboxClient, startTestSandbox, type TestSandbox } from '../src/testing/sandbox.js';

let dc: TestSandbox;
beforeAll(async () => {
  dc = await startTestSandbox({ limits: { idleTimeoutMs: 2_000 } });
});
afterAll(async () => {
  await dc.dispose();
});

async function logsIn(phone: string): Promise<void> {
  const client = await sandboxClient(dc);
  try {
    const user = await loginSandboxClient(client, dc, phone);
    expect(user.phoneNumber).toBe(phone.slice(1));
    const sent = await client.sendText('me', `hello from ${phone}`);
    const [last] = await client.getHistory('me', { limit: 1 });
    expect(last?.id).toBe(sent.id);
  } finally {
    await client.destroy();
  }
}

it('10,000 garbage connections leave the DC serving logins, with flat memory', async () => {
  const port = dc.dcs.find((d) => d.id === 2)!.port;
  await garbageConnections(port, 0, 2000); // warm-up: JIT, pools, lazily built parts
  await logsIn('+9996620001');
  const baseline = await settledHeap();
  await garbageConnections(port, 1000, 10_000);
  await logsIn('+9996620002');
  const after = await settledHeap();
  console.log(`full DC: heap growth after 10,000 garbage connections: ${((after - baseline) / 1024).toFixed(0)} KiB`);
  // Flat: 10,000 retained connections would be tens of MB; the allowance covers the second account's state.
  expect(after - baseline).toBeLessThan(6 * 1024 * 1024);
}, 240_000);
