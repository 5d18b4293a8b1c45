/**
 * The future auth tokens document: what future_auth_tokens.json holds, and — the same bytes — the
 * future_auth_tokens column of an account's row in PostgreSQL (so migrate-store copies it without a key).
 *
 *   {"version": 1, "environment": "sandbox", "tokens": [{"token": "<base64>", "phone"?, "userId"?, "receivedAt"}]}
 *
 * Encrypted with SESSION_ENCRYPTION_KEY like the session (its own additional data, so neither ciphertext
 * passes for the other). The tokens only ever save a login code, so trouble with the document never stops
 * anything: a damaged one, or one of another environment, is ignored (and replaced by the next save); one the
 * configured key does not open is `blocked`: left untouched (the right key would read it), nothing saved over it.
 */
import * as z from 'zod';
import { schemaOnDemand } from './schema-on-demand.js';
import { SessionFileError } from './errors.js';
import { decryptEnvelope, encryptDocumentText, FUTURE_AUTH_TOKENS_FILE_AAD, looksEncrypted } from './session-crypto.js';
import { MAX_FUTURE_AUTH_TOKENS, type FutureAuthToken, type StoreLog } from './types.js';

/** Far beyond 20 tokens; a bigger document is not read. */
export const FUTURE_AUTH_TOKENS_MAX_BYTES = 256 * 1024;

const documentSchema = schemaOnDemand(() =>
  z.object({
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
  }),
);

export interface DecodedFutureAuthTokens {
  tokens: FutureAuthToken[];
  /** Encrypted with a key we do not have: never written over. */
  blocked: boolean;
}

/** Copies that no caller can change under the store (the token bytes included). */
export function copyTokens(tokens: FutureAuthToken[]): FutureAuthToken[] {
  return tokens.slice(-MAX_FUTURE_AUTH_TOKENS).map((t) => ({ ...t, token: t.token.slice() }));
}

/** The document's text for the newest MAX_FUTURE_AUTH_TOKENS tokens, encrypted when `key` is given. */
export function encodeFutureAuthTokens(tokens: FutureAuthToken[], environment: string, key: Uint8Array | undefined): string {
  const text =
    JSON.stringify({
      version: 1,
      environment,
      tokens: tokens.slice(-MAX_FUTURE_AUTH_TOKENS).map((t) => ({
        token: Buffer.from(t.token).toString('base64'),
        ...(t.phone ? { phone: t.phone } : {}),
        ...(t.userId ? { userId: t.userId } : {}),
        receivedAt: t.receivedAt,
      })),
    }) + '\n';
  return key ? encryptDocumentText(text, key, FUTURE_AUTH_TOKENS_FILE_AAD) : text;
}

/**
 * The tokens of a stored document (`label` names it in log lines; `fields` go with them). Never throws and
 * never echoes the content: whatever is wrong is logged and read as no tokens.
 */
export function decodeFutureAuthTokens(
  label: string,
  bytes: Uint8Array,
  opts: { environment: string; encryptionKey?: Uint8Array; log: StoreLog; fields: object },
): DecodedFutureAuthTokens {
  const none = (blocked: boolean, message: string): DecodedFutureAuthTokens => {
    opts.log.warn(opts.fields, message);
    return { tokens: [], blocked };
  };
  if (bytes.length > FUTURE_AUTH_TOKENS_MAX_BYTES) return none(false, `${label} is too large; future auth tokens ignored`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
    if (looksEncrypted(value)) value = JSON.parse(decryptEnvelope(label, value, opts.encryptionKey, FUTURE_AUTH_TOKENS_FILE_AAD));
  } catch (err) {
    // A key problem leaves the document for the right key; anything else is damage.
    const keyProblem = err instanceof SessionFileError && (err.reason === 'decrypt_failed' || err.reason === 'encryption_key_missing');
    return keyProblem ? none(true, `${err.message}; future auth tokens ignored and left untouched`) : none(false, `${label} is damaged; future auth tokens ignored`);
  }
  const parsed = documentSchema().safeParse(value);
  if (!parsed.success) return none(false, `${label} is damaged; future auth tokens ignored`);
  if (parsed.data.environment !== opts.environment) return none(false, `${label} belongs to the ${parsed.data.environment} environment; its tokens are ignored`);
  return {
    blocked: false,
    tokens: parsed.data.tokens.slice(-MAX_FUTURE_AUTH_TOKENS).map((t) => ({
      token: new Uint8Array(Buffer.from(t.token, 'base64')),
      receivedAt: t.receivedAt,
      ...(t.phone ? { phone: t.phone } : {}),
      ...(t.userId ? { userId: t.userId } : {}),
    })),
  };
}
