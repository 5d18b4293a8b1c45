/**
 * Test harness for the file session store: each test gets its own temp directory, a store logger whose
 * lines it can read, and the stores it opens there closed after it (before the directory is removed).
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { createSessionStore, type FileSessionStore, type SessionStoreOptions } from '../../src/store/files/account-files.js';
import { captureStoreLog } from '../helpers/store-log.js';

export interface SessionStoreFixture {
  /** This test's temp directory (`prefix…` under the OS temp dir). */
  readonly root: string;
  /** `<root>/data`: made (0700) before the test with `makeDataDir`, else left for the store to make. */
  readonly dataDir: string;
  /** The stores' logger (newStore's), made fresh for each test. */
  readonly log: ReturnType<typeof captureStoreLog>;
  /** A store on dataDir with `log`, environment 'sandbox' unless given; closed after the test. */
  newStore(extra?: Partial<Omit<SessionStoreOptions, 'dataDir' | 'log'>>): FileSessionStore;
}

export function sessionStorePerTest(prefix: string, opts: { makeDataDir?: boolean } = {}): SessionStoreFixture {
  let root: string | undefined;
  let log: ReturnType<typeof captureStoreLog> | undefined;
  const stores: FileSessionStore[] = [];
  beforeEach(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
    if (opts.makeDataDir) await fsp.mkdir(path.join(root, 'data'), { mode: 0o700 });
    log = captureStoreLog();
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    if (root) await fsp.rm(root, { recursive: true, force: true });
  });
  const fixture: SessionStoreFixture = {
    get root() {
      if (!root) throw new Error('the temp directory is made in beforeEach');
      return root;
    },
    get dataDir() {
      return path.join(fixture.root, 'data');
    },
    get log() {
      if (!log) throw new Error('the store logger is made in beforeEach');
      return log;
    },
    newStore(extra = {}) {
      const store = createSessionStore({ dataDir: fixture.dataDir, environment: 'sandbox', log: fixture.log, ...extra });
      stores.push(store);
      return store;
    },
  };
  return fixture;
}
