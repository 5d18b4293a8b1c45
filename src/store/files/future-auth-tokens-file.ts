/**
 * future_auth_tokens.json: the account's future auth tokens, beside session.json but not in it, because
 * they must outlive the session — a logout, an expiry or a lost session.json is exactly when they are
 * needed. Written atomically (0600), encrypted with SESSION_ENCRYPTION_KEY like session.json (its own
 * additional data, so neither file's ciphertext passes for the other), never logged.
 *
 *   {"version": 1, "environment": "sandbox", "tokens": [{"token": "<base64>", "phone"?, "userId"?, "receivedAt"}]}
 *
 * The tokens only ever save a login code, so trouble with the file never stops anything: a damaged file
 * or one of another environment is ignored (and replaced by the next save); one that the configured key
 * does not open is left untouched (the right key would read it) and nothing is saved over it.
 */
import { writeFileAtomic } from '@telegram-service/durable-files';
import { z } from 'zod';
import { errnoCode, SessionFileError } from '../errors.js';
import { decryptEnvelope, encryptDocumentText, FUTURE_AUTH_TOKENS_FILE_AAD, looksEncrypted } from '../session-crypto.js';
import { MAX_FUTURE_AUTH_TOKENS, type FutureAuthToken, type StoreLog } from '../types.js';
import { readPrivateFile } from './safe-read.js';
import { LOG_MESSAGES } from '../../logging/messages.js';

export const FUTURE_AUTH_TOKENS_FILE_NAME = 'future_auth_tokens.json';
const MAX_BYTES = 256 * 1024;

const fileSchema = z.object({
  version: z.literal(1),
  environment: z.string().min(1).max(32),
  tokens: z
    .array(
      z.object({
        token: z.base64().min(4).max(1024),
        phone: z.string().regex(/^[0-9]{1,32}$/).optional(),
        userId: z.number().int().positive().optional(),
        receivedAt: z.string().max(64),
      }),
    )
    .max(1000),
});

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
    return this.tokens.map((t) => ({ ...t, token: t.token.slice() }));
  }

  async load(): Promise<void> {
    this.tokens = [];
    this.blocked = false;
    const { file } = this.opts;
    const read = await readPrivateFile(file, MAX_BYTES);
    if (read.kind === 'absent') return;
    if (read.kind !== 'ok') {
      this.opts.log.warn({ file }, `${read.detail}; future auth tokens ignored (the next login asks for a code)`);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(read.bytes.toString('utf8'));
      if (looksEncrypted(value)) value = JSON.parse(decryptEnvelope(file, value, this.opts.encryptionKey, FUTURE_AUTH_TOKENS_FILE_AAD));
    } catch (err) {
      // Never echo the content. A key problem leaves the file for the right key; anything else is damage.
      const keyProblem = err instanceof SessionFileError && (err.reason === 'decrypt_failed' || err.reason === 'encryption_key_missing');
      if (keyProblem) this.blocked = true;
      this.opts.log.warn({ file }, keyProblem ? `${err.message}; future auth tokens ignored and the file left untouched` : `${file} is damaged; future auth tokens ignored`);
      return;
    }
    const parsed = fileSchema.safeParse(value);
    if (!parsed.success) {
      this.opts.log.warn({ file }, `${file} is damaged; future auth tokens ignored`);
      return;
    }
    if (parsed.data.environment !== this.opts.environment) {
      this.opts.log.warn({ file }, `${file} belongs to the ${parsed.data.environment} environment; its tokens are ignored`);
      return;
    }
    this.tokens = parsed.data.tokens.slice(-MAX_FUTURE_AUTH_TOKENS).map((t) => ({
      token: new Uint8Array(Buffer.from(t.token, 'base64')),
      receivedAt: t.receivedAt,
      ...(t.phone ? { phone: t.phone } : {}),
      ...(t.userId ? { userId: t.userId } : {}),
    }));
  }

  async save(tokens: FutureAuthToken[]): Promise<void> {
    this.tokens = tokens.slice(-MAX_FUTURE_AUTH_TOKENS).map((t) => ({ ...t, token: t.token.slice() }));
    if (this.blocked) return;
    const text =
      JSON.stringify({
        version: 1,
        environment: this.opts.environment,
        tokens: this.tokens.map((t) => ({
          token: Buffer.from(t.token).toString('base64'),
          ...(t.phone ? { phone: t.phone } : {}),
          ...(t.userId ? { userId: t.userId } : {}),
          receivedAt: t.receivedAt,
        })),
      }) + '\n';
    const key = this.opts.encryptionKey;
    try {
      await writeFileAtomic(this.opts.file, key ? encryptDocumentText(text, key, FUTURE_AUTH_TOKENS_FILE_AAD) : text);
    } catch (err) {
      // Kept in memory: this run can still use them.
      this.opts.log.warn({ file: this.opts.file, code: errnoCode(err) }, LOG_MESSAGES.futureTokensNotWritten);
    }
  }
}
