/**
 * Temporary directories for one test file: each call makes a new one; all are removed after the file's
 * tests. With `subfolder`, a call answers `<new directory>/<subfolder>`, not made: for code under test
 * that makes its own directory.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

export function tempDirs(prefix: string, subfolder?: string): () => Promise<string> {
  const roots: string[] = [];
  afterAll(async () => {
    for (const root of roots) await fsp.rm(root, { recursive: true, force: true });
  });
  return async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
    roots.push(root);
    return subfolder === undefined ? root : path.join(root, subfolder);
  };
}
