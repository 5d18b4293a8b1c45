/**
 * The file backend of WebhookStore: DATA_DIR/accounts/<id>/webhook.json (0600), written atomically; the
 * document and its encryption are webhook-document.ts's. A damaged file is moved aside and the account has no
 * webhook (said in the log).
 */
import path from 'node:path';
import { moveAside, removeStaleTempFiles, writeFileAtomic } from '@telegram-service/durable-files';
import type { StoreLog, WebhookRecord, WebhookStore } from '../types.js';
import { decodeWebhookDocument, encodeWebhookDocument, NO_WEBHOOK, WEBHOOK_DOCUMENT_MAX_BYTES } from '../webhook-document.js';
import { readPrivateFile } from './safe-read.js';

export const WEBHOOK_FILE_NAME = 'webhook.json';

export function createFileWebhookStore(opts: { dir: string; log: StoreLog; encryptionKey?: Uint8Array }): WebhookStore {
  const file = path.join(opts.dir, WEBHOOK_FILE_NAME);
  return {
    async load(): Promise<WebhookRecord> {
      await removeStaleTempFiles(file); // of a write cut short by a crash (the data-dir lock: no other writer)
      const read = await readPrivateFile(file, WEBHOOK_DOCUMENT_MAX_BYTES);
      if (read.kind === 'absent') return { ...NO_WEBHOOK };
      if (read.kind === 'ok') {
        for (const warning of read.warnings) opts.log.warn({ file }, warning);
        const record = decodeWebhookDocument(file, read.bytes, opts.encryptionKey);
        if (record) return record;
      }
      const movedTo = await moveAside(file, 'corrupt').catch(() => undefined);
      opts.log.error({ file, ...(movedTo ? { movedTo } : {}) }, `${WEBHOOK_FILE_NAME} is damaged; the account has no webhook until one is set again`);
      return { ...NO_WEBHOOK };
    },

    async save(record: WebhookRecord): Promise<void> {
      await writeFileAtomic(file, encodeWebhookDocument(record, opts.encryptionKey));
    },
  };
}
