/**
 * future_auth_tokens.json: the account's future auth tokens, beside session.json but not in it, because
 * they must outlive the session — a logout, an expiry or a lost session.json is exactly when they are
 * needed. Written atomically (0600); the document, its encryption and what is done with a bad one are
 * future-auth-tokens-document.ts's. Never logged.
 */
import { writeFileAtomic } from '@telegram-service/durable-files';
import { errnoCode } from '../errors.js';
import { copyTokens, decodeFutureAuthTokens, encodeFutureAuthTokens, FUTURE_AUTH_TOKENS_MAX_BYTES } from '../future-auth-tokens-document.js';
import type { FutureAuthToken, StoreLog } from '../types.js';
import { readPrivateFile } from './safe-read.js';
import { LOG_MESSAGES } from '../../logging/messages.js';

export const FUTURE_AUTH_TOKENS_FILE_NAME = 'future_auth_tokens.json';

export interface FutureAuthTokensFileOptions {
  file: string;
  environment: string;
  log: StoreLog;
  encryptionKey?: Uint8Array;
}

export class FutureAuthTokensFile {
  private tokens: FutureAuthToken[] = [];
  /** Set when the file is encrypted with a key we do not have: it is never written over. */
  private blocked = false;

  constructor(private readonly opts: FutureAuthTokensFileOptions) {}

  list(): FutureAuthToken[] {
    return copyTokens(this.tokens);
  }

  async load(): Promise<void> {
    this.tokens = [];
    this.blocked = false;
    const { file } = this.opts;
    const read = await readPrivateFile(file, FUTURE_AUTH_TOKENS_MAX_BYTES);
    if (read.kind === 'absent') return;
    if (read.kind !== 'ok') {
      this.opts.log.warn({ file }, `${read.detail}; future auth tokens ignored (the next login asks for a code)`);
      return;
    }
    ({ tokens: this.tokens, blocked: this.blocked } = decodeFutureAuthTokens(file, read.bytes, { ...this.opts, fields: { file } }));
  }

  async save(tokens: FutureAuthToken[]): Promise<void> {
    this.tokens = copyTokens(tokens);
    if (this.blocked) return;
    try {
      await writeFileAtomic(this.opts.file, encodeFutureAuthTokens(this.tokens, this.opts.environment, this.opts.encryptionKey));
    } catch (err) {
      // Kept in memory: this run can still use them.
      this.opts.log.warn({ file: this.opts.file, code: errnoCode(err) }, LOG_MESSAGES.futureTokensNotWritten);
    }
  }
}
