/**
 * A reliability test file's fixture: one sandbox DC and one temp directory for all its tests. The service
 * on that DC: startService({ dc, env: TEST_ENV }) in test/helpers/service-process.ts; accounts, logins and
 * polling: test/helpers/sandbox-service.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';

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
