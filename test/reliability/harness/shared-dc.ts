/**
 * Polling for reliability tests, and the old names of the helpers that start a DC and the service (now
 * startService / TEST_ENV in test/helpers/service-process.ts), kept working for tests written against them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { startService, TEST_ENV, type ServiceProcess, type StartServiceOptions } from '../../helpers/service-process.js';
import { sleep } from '../../helpers/sandbox-service.js';

export { sandboxOf, seededRandom, sleep, uniquePhone } from '../../helpers/sandbox-service.js';

/** @deprecated TEST_ENV */
export const RELIABILITY_ENV = TEST_ENV;

/** @deprecated startService({ ...opts, dc, env: { ...TEST_ENV, ...opts.env } }) */
export function startOn(dc: TestSandbox, opts: Omit<StartServiceOptions, 'dc' | 'sandbox'> = {}): Promise<ServiceProcess> {
  return startService({ ...opts, dc, env: { ...TEST_ENV, ...opts.env } });
}

/** Polls until `check` returns a value (not undefined); throws with `what` after the deadline. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * One sandbox DC and one temp directory (`prefix…` under the OS temp dir) for the calling test file:
 * made before its tests, removed after them — after `beforeDispose` (e.g. recording the totals).
 */
export function dcAndTempRoot(prefix: string, beforeDispose?: () => void): { readonly dc: TestSandbox; readonly root: string } {
  let dc: TestSandbox | undefined;
  let root: string | undefined;
  beforeAll(async () => {
    dc = await startTestSandbox();
    root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterAll(async () => {
    beforeDispose?.();
    await dc?.dispose();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });
  return {
    get dc() {
      if (!dc) throw new Error('the sandbox DC starts in beforeAll');
      return dc;
    },
    get root() {
      if (!root) throw new Error('the temp root is made in beforeAll');
      return root;
    },
  };
}
