/**
 * A data directory written by the single-account version keeps its files at its root (session.json,
 * auth_state.json and their companions). They become the account `default`: moved to
 * accounts/default/, crash-safe at every step, with nothing for the user to run.
 *
 *   1. mkdir accounts/.default.migrating            (not an account id: ids never start with '.')
 *   2. hard-link each root file into it              (the root files stay: a crash loses nothing)
 *   3. fsync it; rename it to accounts/default       (the one atomic step: from here on it is the account)
 *   4. unlink the root files that are links to the same inode; fsync the root
 * A start after a crash finds the state of one of these steps and finishes from there: before 3, the
 * staging directory is rebuilt from the root files; after 3, the root links are removed.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fsyncDir, PRIVATE_DIR_MODE } from '@telegram-service/durable-files';
import { errnoCode } from '../errors.js';
import { DEFAULT_ACCOUNT_ID, type StoreLog } from '../types.js';
import { LOG_MESSAGES } from '../../logging/messages.js';
const STAGING = `.${DEFAULT_ACCOUNT_ID}.migrating`;

/** The root files of the single-account layout (exact names), and the prefixes of their kept-aside copies. */
const LEGACY_NAMES = ['session.json', 'session.json.bak', 'auth_state.json'];
const LEGACY_PREFIXES = ['session.json.', 'auth_state.json.', '.session.json.tmp-', '.session.json.bak.tmp-', '.auth_state.json.tmp-'];

export type MigrationStep = 'staging-created' | 'linked' | 'renamed' | 'unlinked';

export interface MigrationOptions {
  log: StoreLog;
  /** Observes each step as it completes (the crash test kills the process here). */
  onStep?: (step: MigrationStep) => void;
}

function isLegacyName(name: string): boolean {
  return LEGACY_NAMES.includes(name) || LEGACY_PREFIXES.some((prefix) => name.startsWith(prefix));
}

async function legacyFiles(dataDir: string): Promise<string[]> {
  const names = await fsp.readdir(dataDir).catch(() => [] as string[]);
  return names.filter(isLegacyName).sort();
}

async function exists(file: string): Promise<boolean> {
  return fsp.lstat(file).then(
    () => true,
    () => false,
  );
}

/** Moves a single-account layout into accounts/default. Returns whether there was one. */
export async function migrateLegacyLayout(dataDir: string, accountsDir: string, opts: MigrationOptions): Promise<boolean> {
  const target = path.join(accountsDir, DEFAULT_ACCOUNT_ID);
  const staging = path.join(accountsDir, STAGING);
  const files = await legacyFiles(dataDir);
  if (files.length === 0) {
    // Nothing at the root: at most a staging directory of a migration whose files are gone already (step 4 ran
    // after step 3 — impossible — or someone removed them); an empty or partial staging dir is dropped.
    if (await exists(staging)) await fsp.rm(staging, { recursive: true, force: true });
    return false;
  }

  if (!(await exists(target))) {
    // Steps 1–3: (re)build the staging directory from the root files, then rename it into place.
    await fsp.mkdir(staging, { recursive: true, mode: PRIVATE_DIR_MODE });
    await fsp.chmod(staging, PRIVATE_DIR_MODE);
    opts.onStep?.('staging-created');
    for (const name of files) {
      const from = path.join(dataDir, name);
      const to = path.join(staging, name);
      await fsp.unlink(to).catch((err: unknown) => {
        if (errnoCode(err) !== 'ENOENT') throw err;
      });
      await fsp.link(from, to);
    }
    await fsyncDir(staging);
    opts.onStep?.('linked');
    await fsp.rename(staging, target);
    await fsyncDir(accountsDir);
    opts.onStep?.('renamed');
    opts.log.info({ files, account: DEFAULT_ACCOUNT_ID }, LOG_MESSAGES.singleAccountLayoutMoved(DEFAULT_ACCOUNT_ID));
  }

  // Step 4: the root names that are the same files as the account's go; anything else stays, said once.
  for (const name of files) {
    const from = path.join(dataDir, name);
    const [rootStat, accountStat] = await Promise.all([fsp.lstat(from).catch(() => undefined), fsp.lstat(path.join(target, name)).catch(() => undefined)]);
    if (rootStat && accountStat && rootStat.ino === accountStat.ino && rootStat.dev === accountStat.dev) {
      await fsp.unlink(from);
    } else if (rootStat) {
      opts.log.warn(
        { file: from, account: DEFAULT_ACCOUNT_ID },
        `${name} at the data directory's root is not part of accounts/${DEFAULT_ACCOUNT_ID}/; left where it is (not used)`,
      );
    }
  }
  await fsyncDir(dataDir);
  opts.onStep?.('unlinked');
  return true;
}
