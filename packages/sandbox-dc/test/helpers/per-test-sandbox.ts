/**
 * Sandbox DCs and mtcute clients that live for one test: each is disposed after the test that made it
 * (clients first, newest first). Kept apart from sandbox.ts, which the bench imports outside vitest.
 */
import { afterEach } from 'vitest';
import type { TelegramClient } from '@mtcute/node';
import { sandboxClient, startTestSandbox, type TestSandbox } from '../../src/testing/sandbox.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

/** Runs `cleanup` after the current test (for handles a test replaces, e.g. a restarted DC). */
export function afterThisTest(cleanup: () => Promise<unknown>): void {
  cleanups.push(cleanup);
}

export async function sandbox(): Promise<TestSandbox> {
  const dc = await startTestSandbox();
  cleanups.push(() => dc.dispose());
  return dc;
}

export async function client(dc: TestSandbox, opts: Parameters<typeof sandboxClient>[1] = {}): Promise<TelegramClient> {
  const c = await sandboxClient(dc, opts);
  cleanups.push(() => c.destroy());
  return c;
}
