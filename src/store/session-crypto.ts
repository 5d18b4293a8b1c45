/**
 * Optional encryption at rest of session.json, future_auth_tokens.json, webhook.json and the event journal
 * (SESSION_ENCRYPTION_KEY):
 * AES-256-GCM over the whole plaintext document, stored as a small JSON envelope so a reader can tell
 * "encrypted" from "corrupt".
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import * as z from 'zod';
import { schemaOnDemand } from './schema-on-demand.js';
import { SessionFileError } from './errors.js';

export const ENCRYPTION_ALG = 'aes-256-gcm';
/**
 * The additional authenticated data of each file we encrypt: binds a ciphertext to its purpose, so one
 * file's ciphertext cannot be replayed as another file of ours.
 */
const SESSION_FILE_AAD = Buffer.from('telegram-service session.json v1');
export const FUTURE_AUTH_TOKENS_FILE_AAD = Buffer.from('telegram-service future_auth_tokens.json v1');
export const WEBHOOK_FILE_AAD = Buffer.from('telegram-service webhook.json v1');

const envelopeSchema = schemaOnDemand(() =>
  z.object({
    version: z.literal(1),
    encrypted: z.object({
      alg: z.literal(ENCRYPTION_ALG),
      iv: z.base64(),
      tag: z.base64(),
      data: z.base64(),
    }),
  }),
);

export type EncryptedEnvelope = z.infer<ReturnType<typeof envelopeSchema>>;

export function assertEncryptionKey(key: Uint8Array): void {
  if (key.length !== 32) throw new TypeError(`session encryption key must be 32 bytes, got ${key.length}`);
}

/** Whether a parsed JSON value looks like an encryption envelope (whatever its validity). */
export function looksEncrypted(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'encrypted' in value;
}

/** AES-256-GCM of `plaintext` under `key`, bound to `aad`: a fresh 12-byte IV, the 16-byte tag, the ciphertext. */
export function sealText(plaintext: string, key: Uint8Array, aad: Uint8Array): { iv: Buffer; tag: Buffer; data: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv(ENCRYPTION_ALG, key, iv);
  cipher.setAAD(aad);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), data };
}

/** The plaintext of sealText's output; throws when the key is wrong or the bytes were altered (GCM cannot tell which). */
export function openSealed(sealed: { iv: Uint8Array; tag: Uint8Array; data: Uint8Array }, key: Uint8Array, aad: Uint8Array): string {
  // Full-length IV and tag only: GCM would accept a truncated tag, which weakens authentication.
  if (sealed.iv.length !== 12 || sealed.tag.length !== 16) throw new Error('damaged: short IV or tag');
  const decipher = createDecipheriv(ENCRYPTION_ALG, key, sealed.iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.data), decipher.final()]).toString('utf8');
}

export function encryptDocumentText(plaintext: string, key: Uint8Array, aad: Uint8Array = SESSION_FILE_AAD): string {
  const { iv, tag, data } = sealText(plaintext, key, aad);
  const envelope: EncryptedEnvelope = {
    version: 1,
    encrypted: { alg: ENCRYPTION_ALG, iv: iv.toString('base64'), tag: tag.toString('base64'), data: data.toString('base64') },
  };
  return JSON.stringify(envelope) + '\n';
}

/** Decrypt an envelope. A wrong key and a damaged envelope are both 'decrypt_failed' (GCM cannot tell them apart). */
export function decryptEnvelope(file: string, value: unknown, key: Uint8Array | undefined, aad: Uint8Array = SESSION_FILE_AAD): string {
  if (!key) {
    throw new SessionFileError(
      file,
      'encryption_key_missing',
      `${file} is encrypted and no SESSION_ENCRYPTION_KEY is set; set the key it was written with`,
    );
  }
  const parsed = envelopeSchema().safeParse(value);
  if (!parsed.success) {
    throw new SessionFileError(file, 'decrypt_failed', `${file} has a damaged encryption envelope`);
  }
  const { iv, tag, data } = parsed.data.encrypted;
  const sealed = { iv: Buffer.from(iv, 'base64'), tag: Buffer.from(tag, 'base64'), data: Buffer.from(data, 'base64') };
  if (sealed.iv.length !== 12 || sealed.tag.length !== 16) {
    throw new SessionFileError(file, 'decrypt_failed', `${file} has a damaged encryption envelope`);
  }
  try {
    return openSealed(sealed, key, aad);
  } catch (err) {
    throw new SessionFileError(
      file,
      'decrypt_failed',
      `${file} cannot be decrypted: wrong SESSION_ENCRYPTION_KEY (or the file was altered)`,
      { cause: err },
    );
  }
}
