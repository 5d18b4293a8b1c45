/**
 * All of the DC's state in one place, and its persistence:
 *   <dataDir>/auth-keys.jsonl  auth keys + authorizations, written through (see auth-keys.ts)
 *   <dataDir>/state.json       accounts, messages (with their pts event logs), pending login codes, QR login
 *                              tokens and future auth tokens (digests only) and 2FA logins;
 *                              written atomically, debounced, or at once via flush()
 * Without a dataDir everything lives in memory only.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Long from 'long';
import { AccountStore, type AccountsSnapshot } from './accounts.js';
import { AuthKeyRegistry, MAX_STATE_FILE_BYTES } from './auth-keys.js';
import { FutureAuthTokens, type FutureAuthTokensSnapshot } from './future-auth-tokens.js';
import { LoginTokens, type LoginTokensSnapshot } from './login-tokens.js';
import { LoginCodes, type LoginCodesSnapshot } from './login-codes.js';
import { MessageStore, type MessagesSnapshot } from './messages.js';
import { readPrivateFileSync, writeFileAtomic, writeFileAtomicSync } from '@telegram-service/durable-files';
import { decodeJson, encodeJson } from './json-codec.js';

interface StateFile {
  version: 1;
  accounts: AccountsSnapshot;
  messages: MessagesSnapshot;
  codes?: LoginCodesSnapshot;
  loginTokens?: LoginTokensSnapshot;
  futureAuthTokens?: FutureAuthTokensSnapshot;
  /** [auth key id, user id] of 2FA logins waiting for the password. */
  passwordLogins?: [string, number][];
}

/** A Map that reports every change (for state that must reach state.json). */
class ObservedMap<K, V> extends Map<K, V> {
  constructor(private readonly onChange: () => void) {
    super();
  }
  override set(key: K, value: V): this {
    super.set(key, value);
    this.onChange?.();
    return this;
  }
  override delete(key: K): boolean {
    const removed = super.delete(key);
    if (removed) this.onChange();
    return removed;
  }
}

/** The SRP exchange started by the last account.getPassword on one auth key (single use). */
export interface SrpSession {
  userId: number;
  srpId: Long;
  b: bigint;
  B: Uint8Array;
}

/** A token from auth.exportAuthorization, redeemable once by auth.importAuthorization on `dcId`. */
export interface ExportedAuthorization {
  userId: number;
  dcId: number;
  bytes: Uint8Array;
  expiresAt: number;
}

export interface SandboxStateOptions {
  dataDir?: string;
  codeLifetimeMs?: number;
  /** Delay for coalescing state.json writes (ms). */
  saveDebounceMs?: number;
  /** Secret the stored auth keys are sealed with (the DC's RSA private key PEM); see AuthKeyRegistry. */
  keySealSecret?: string | Uint8Array;
  /** Clock for token lifetimes (tests). */
  now?: () => number;
  /** Where warnings about the state files go (a loose mode fixed). */
  warn?: (msg: string) => void;
}

export class SandboxState {
  readonly accounts: AccountStore;
  readonly messages: MessageStore;
  readonly keys: AuthKeyRegistry;
  readonly codes: LoginCodes;
  readonly loginTokens: LoginTokens;
  readonly futureAuthTokens: FutureAuthTokens;
  /** Auth key id → user id, for 2FA logins whose code was right and whose password is still needed. */
  readonly passwordLogins: Map<string, number> = new ObservedMap<string, number>(() => this.markDirty());
  /** Auth key id → its current SRP exchange. */
  readonly srpSessions = new Map<string, SrpSession>();
  readonly exportedAuthorizations = new Map<string, ExportedAuthorization>();

  private readonly statePath?: string;
  private readonly debounceMs: number;
  private timer?: NodeJS.Timeout;
  private dirty = false;
  private writing?: Promise<void>;
  private closed = false;

  constructor(opts: SandboxStateOptions = {}) {
    this.debounceMs = opts.saveDebounceMs ?? 200;
    this.statePath = opts.dataDir ? join(opts.dataDir, 'state.json') : undefined;
    // The writers below expect the directory to exist (startSandboxDc makes it; a standalone state may not have).
    if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    this.accounts = new AccountStore(() => this.markDirty());
    this.messages = new MessageStore(() => this.markDirty());
    this.keys = new AuthKeyRegistry(opts.dataDir ? join(opts.dataDir, 'auth-keys.jsonl') : undefined, opts.keySealSecret, opts.warn);
    this.codes = new LoginCodes(opts.codeLifetimeMs, () => this.markDirty());
    this.loginTokens = new LoginTokens(() => this.markDirty(), opts.now);
    this.futureAuthTokens = new FutureAuthTokens(() => this.markDirty(), opts.now);
    // Never through a symlink: whoever placed one would choose the accounts we load (and see our writes).
    const saved = this.statePath ? readPrivateFileSync(this.statePath, { maxBytes: MAX_STATE_FILE_BYTES }) : undefined;
    if (saved) {
      saved.warnings.forEach((w) => opts.warn?.(w));
      this.load(saved.bytes.toString('utf8'));
    }
  }

  /** Schedules a state.json write. */
  markDirty(): void {
    if (!this.statePath || this.closed) return;
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(() => {
        // flush() keeps `dirty` set on failure; the next change or close() retries.
      });
    }, this.debounceMs);
  }

  /** Writes state.json now if anything changed; concurrent calls share writes. Resolves once durable. */
  async flush(): Promise<void> {
    // After close() the final state is on disk and the data dir may already belong to a new DC instance.
    if (!this.statePath || this.closed) return;
    while ((this.dirty && !this.closed) || this.writing) {
      if (this.writing) {
        await this.writing;
        continue;
      }
      this.dirty = false;
      const text = this.serialize();
      this.writing = writeFileAtomic(this.statePath, text).catch((e: unknown) => {
        this.dirty = true;
        throw e;
      }).finally(() => {
        this.writing = undefined;
      });
      await this.writing;
    }
  }

  /**
   * Stops every write at once, without a final save: the data directory is not ours any more (its lock
   * was lost) and another DC may be using it. What is in memory stays usable until the DC is closed.
   */
  abandon(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.keys.stopPersisting();
  }

  /** Final save (after any write in flight, so an older snapshot cannot land last); compacts the key journal. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing?.catch(() => {});
    if (this.statePath) writeFileAtomicSync(this.statePath, this.serialize());
    this.keys.compact();
  }

  private serialize(): string {
    const file: StateFile = {
      version: 1,
      accounts: this.accounts.snapshot(),
      messages: this.messages.snapshot(),
      codes: this.codes.snapshot(),
      loginTokens: this.loginTokens.snapshot(),
      futureAuthTokens: this.futureAuthTokens.snapshot(),
      passwordLogins: [...this.passwordLogins],
    };
    return encodeJson(file);
  }

  private load(text: string): void {
    let file: StateFile;
    try {
      file = decodeJson<StateFile>(text);
    } catch (e) {
      throw new Error(`sandbox DC state file ${this.statePath} is not valid JSON: ${(e as Error).message}`);
    }
    if (file.version !== 1) throw new Error(`sandbox DC state file ${this.statePath} has unknown version ${String(file.version)}`);
    this.accounts.restore(file.accounts);
    this.messages.restore(file.messages);
    this.codes.restore(file.codes);
    this.loginTokens.restore(file.loginTokens);
    this.futureAuthTokens.restore(file.futureAuthTokens);
    for (const [keyId, userId] of file.passwordLogins ?? []) Map.prototype.set.call(this.passwordLogins, keyId, userId);
  }
}
