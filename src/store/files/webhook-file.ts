/**
 * The file backend of WebhookStore: DATA_DIR/accounts/<id>/webhook.json (0600), written atomically.
 *   {"version":1,"config":{"url","secret","setBy","createdAt"}|null,"deliveredId":N}
 * With SESSION_ENCRYPTION_KEY the whole file is encrypted like session.json (its own AAD), so the secret is
 * never on disk in clear. A damaged file is moved aside and the account has no webhook (said in the log).
 */
import path from 'node:path';
import { moveAside, removeStaleTempFiles, writeFileAtomic } from '@telegram-service/durable-files';
import { z } from 'zod';
import { SessionFileError } from '../errors.js';
import { decryptEnvelope, encryptDocumentText, looksEncrypted, WEBHOOK_FILE_AAD } from '../session-crypto.js';
import type { StoreLog, WebhookRecord, WebhookStore } from '../types.js';
import { readPrivateFile } from './safe-read.js';

export const WEBHOOK_FILE_NAME = 'webhook.json';
const MAX_BYTES = 64 * 1024;

const recordSchema = z.object({
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
});

export function createFileWebhookStore(opts: { dir: string; log: StoreLog; encryptionKey?: Uint8Array }): WebhookStore {
  const file = path.join(opts.dir, WEBHOOK_FILE_NAME);
  return {
    async load(): Promise<WebhookRecord> {
      await removeStaleTempFiles(file); // of a write cut short by a crash (the data-dir lock: no other writer)
      const read = await readPrivateFile(file, MAX_BYTES);
      if (read.kind === 'absent') return { config: null, deliveredId: 0 };
      if (read.kind === 'ok') {
        for (const warning of read.warnings) opts.log.warn({ file }, warning);
        try {
          let value: unknown = JSON.parse(read.bytes.toString('utf8'));
          if (looksEncrypted(value)) value = JSON.parse(decryptEnvelope(file, value, opts.encryptionKey, WEBHOOK_FILE_AAD));
          const parsed = recordSchema.safeParse(value);
          if (parsed.success) return { config: parsed.data.config, deliveredId: parsed.data.deliveredId };
        } catch (err) {
          // A key problem is a configuration error: leave the file alone and deliver nothing until it is fixed.
          if (err instanceof SessionFileError) throw err;
        }
      }
      const movedTo = await moveAside(file, 'corrupt').catch(() => undefined);
      opts.log.error({ file, ...(movedTo ? { movedTo } : {}) }, `${WEBHOOK_FILE_NAME} is damaged; the account has no webhook until one is set again`);
      return { config: null, deliveredId: 0 };
    },

    async save(record: WebhookRecord): Promise<void> {
      const text = JSON.stringify({ version: 1, config: record.config, deliveredId: record.deliveredId }) + '\n';
      await writeFileAtomic(file, opts.encryptionKey ? encryptDocumentText(text, opts.encryptionKey, WEBHOOK_FILE_AAD) : text);
    },
  };
}
