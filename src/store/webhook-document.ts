/**
 * The webhook document: what webhook.json holds, and — the same bytes — the document column of an account's
 * row in tgs_webhooks (so migrate-store copies it without a key).
 *
 *   {"version":1,"config":{"url","secret","setBy","createdAt"}|null,"deliveredId":N}
 *
 * With SESSION_ENCRYPTION_KEY the whole document is encrypted like session.json (its own additional data), so
 * the secret is never stored in clear.
 */
import * as z from 'zod';
import { schemaOnDemand } from './schema-on-demand.js';
import { SessionFileError } from './errors.js';
import { decryptEnvelope, encryptDocumentText, looksEncrypted, WEBHOOK_FILE_AAD } from './session-crypto.js';
import type { WebhookRecord } from './types.js';

export const WEBHOOK_DOCUMENT_MAX_BYTES = 64 * 1024;
export const NO_WEBHOOK: Readonly<WebhookRecord> = Object.freeze({ config: null, deliveredId: 0 });

const documentSchema = schemaOnDemand(() =>
  z.object({
    version: z.literal(1),
    config: z
      .object({
        url: z.string().min(1).max(4096),
        secret: z.string().min(1).max(1024),
        setBy: z.enum(['admin', 'account']),
        createdAt: z.string().max(64),
      })
      .nullable(),
    deliveredId: z.number().int().min(0),
  }),
);

export function encodeWebhookDocument(record: WebhookRecord, key: Uint8Array | undefined): string {
  const text = JSON.stringify({ version: 1, config: record.config, deliveredId: record.deliveredId }) + '\n';
  return key ? encryptDocumentText(text, key, WEBHOOK_FILE_AAD) : text;
}

/**
 * The record of a stored document; undefined when it is damaged. Throws SessionFileError when it is encrypted
 * and the key is missing or wrong: a configuration error, so the document is left alone and nothing delivered.
 */
export function decodeWebhookDocument(label: string, bytes: Uint8Array, key: Uint8Array | undefined): WebhookRecord | undefined {
  if (bytes.length > WEBHOOK_DOCUMENT_MAX_BYTES) return undefined;
  try {
    let value: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    if (looksEncrypted(value)) value = JSON.parse(decryptEnvelope(label, value, key, WEBHOOK_FILE_AAD));
    const parsed = documentSchema().safeParse(value);
    return parsed.success ? { config: parsed.data.config, deliveredId: parsed.data.deliveredId } : undefined;
  } catch (err) {
    if (err instanceof SessionFileError) throw err;
    return undefined;
  }
}
