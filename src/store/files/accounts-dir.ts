/**
 * The file backend of AccountsStore: one directory per account under DATA_DIR/accounts/ (0700), holding
 * the seed's session.json and auth_state.json (see account-files.ts), tokens.json (hashes of the
 * account's scoped tokens), events/ (the event journal), webhook.json and idempotency.jsonl. An account
 * exists exactly when its directory does.
 *
 * - create: mkdir + fsync of accounts/ — answered means it survives a crash.
 * - remove: one rename to accounts/.removed-<id>-<random> (atomic: after it, the account is gone for any
 *   start), fsync, then the files are deleted; leftovers of a crash in between are deleted at open.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir, fsyncDir, PRIVATE_DIR_MODE, writeFileAtomic } from '@telegram-service/durable-files';
import * as z from 'zod';
import { schemaOnDemand } from '../schema-on-demand.js';
import { errnoCode } from '../errors.js';
import type { AccountsStore, ScopedTokenRecord, StoreLog } from '../types.js';
import { createSessionStore, VERIFY_INTERVAL_MS } from './account-files.js';
import { FileCheckRounds } from './file-check-rounds.js';
import { createFileEventJournal, EVENTS_DIR_NAME } from './event-journal.js';
import { createFileIdempotencyStore } from './idempotency-file.js';
import { createFileWebhookStore } from './webhook-file.js';
import { migrateLegacyLayout, type MigrationOptions } from './legacy-layout.js';
import { readPrivateFile } from './safe-read.js';

export const ACCOUNTS_DIR_NAME = 'accounts';
export const TOKENS_FILE_NAME = 'tokens.json';
const REMOVED_PREFIX = '.removed-';
const TOKENS_MAX_BYTES = 1024 * 1024;
/** The accounts' files are checked one per this many ms on average (a thousand accounts: every 20 s). */
const VERIFY_SPACING_MS = 20;

const tokensSchema = schemaOnDemand(() =>
  z.object({
    version: z.literal(1),
    tokens: z.array(
      z.object({
        id: z.string().regex(/^[0-9a-f]{16}$/),
        hash: z.string().regex(/^[0-9a-f]{64}$/),
        createdAt: z.string().max(64),
        label: z.string().max(200).optional(),
      }),
    ),
  }),
);

export interface FileAccountsStoreOptions {
  dataDir: string;
  environment: string;
  log: StoreLog;
  /** 32 bytes: session files encrypted at rest. */
  encryptionKey?: Uint8Array;
  /** Observes the single-account migration's steps (the crash test). */
  onMigrationStep?: MigrationOptions['onStep'];
}

export function createFileAccountsStore(opts: FileAccountsStoreOptions): AccountsStore {
  const accountsDir = path.join(opts.dataDir, ACCOUNTS_DIR_NAME);
  const checkRounds = new FileCheckRounds({ minIntervalMs: VERIFY_INTERVAL_MS, spacingMs: VERIFY_SPACING_MS });
  const dirOf = (id: string): string => path.join(accountsDir, id);

  return {
    async open() {
      const created = await ensurePrivateDir(accountsDir);
      for (const warning of created.warnings) opts.log.warn({ dir: accountsDir }, warning);
      await migrateLegacyLayout(opts.dataDir, accountsDir, { log: opts.log, onStep: opts.onMigrationStep });
      const ids: string[] = [];
      for (const entry of await fsp.readdir(accountsDir, { withFileTypes: true })) {
        if (entry.name.startsWith(REMOVED_PREFIX)) {
          await fsp.rm(path.join(accountsDir, entry.name), { recursive: true, force: true });
          opts.log.info({ dir: entry.name }, 'Finished removing an account deleted before a crash');
        } else if (entry.name.startsWith('.')) {
          continue; // a staging directory or other hidden entry: not an account
        } else if (entry.isDirectory()) {
          ids.push(entry.name);
        } else {
          opts.log.warn({ entry: entry.name }, `accounts/${entry.name} is not a directory; ignored`);
        }
      }
      return ids.sort();
    },

    async create(id) {
      try {
        await fsp.mkdir(dirOf(id), { mode: PRIVATE_DIR_MODE });
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') return false;
        throw err;
      }
      await fsp.chmod(dirOf(id), PRIVATE_DIR_MODE);
      await fsyncDir(accountsDir);
      return true;
    },

    async remove(id) {
      const removed = path.join(accountsDir, `${REMOVED_PREFIX}${id}-${randomBytes(4).toString('hex')}`);
      try {
        await fsp.rename(dirOf(id), removed);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return;
        throw err;
      }
      await fsyncDir(accountsDir);
      await fsp.rm(removed, { recursive: true, force: true });
    },

    sessionStore(id, log) {
      return createSessionStore({
        dataDir: dirOf(id),
        environment: opts.environment,
        log,
        checkRounds,
        ...(opts.encryptionKey ? { encryptionKey: opts.encryptionKey } : {}),
      });
    },

    async listTokens(id) {
      const file = path.join(dirOf(id), TOKENS_FILE_NAME);
      const read = await readPrivateFile(file, TOKENS_MAX_BYTES);
      if (read.kind === 'absent') return [];
      if (read.kind !== 'ok') throw new Error(`${file}: ${read.detail}`);
      const parsed = tokensSchema().safeParse(parseJsonOrUndefined(read.bytes));
      // A damaged token file grants nothing: its tokens stop working (the admin can issue new ones).
      if (!parsed.success) {
        opts.log.error({ file }, `${TOKENS_FILE_NAME} is damaged; the account's scoped tokens are not accepted until new ones are issued`);
        return [];
      }
      return parsed.data.tokens;
    },

    async saveTokens(id, tokens: ScopedTokenRecord[]) {
      await writeTokensFile(dirOf(id), tokens);
    },

    eventJournal(id, log, retention) {
      return createFileEventJournal({
        dir: path.join(dirOf(id), EVENTS_DIR_NAME),
        log,
        retention,
        ...(opts.encryptionKey ? { encryptionKey: opts.encryptionKey } : {}),
      });
    },

    webhookStore(id, log) {
      return createFileWebhookStore({ dir: dirOf(id), log, ...(opts.encryptionKey ? { encryptionKey: opts.encryptionKey } : {}) });
    },

    idempotencyStore(id, log) {
      return createFileIdempotencyStore({ dir: dirOf(id), log });
    },
  };
}

/** tokens.json of the account directory `dir`. */
export async function writeTokensFile(dir: string, tokens: ScopedTokenRecord[]): Promise<void> {
  await writeFileAtomic(path.join(dir, TOKENS_FILE_NAME), JSON.stringify({ version: 1, tokens }, null, 2) + '\n');
}

function parseJsonOrUndefined(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
}
