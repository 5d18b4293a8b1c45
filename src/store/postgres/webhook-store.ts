/**
 * The PostgreSQL backend of WebhookStore: the account's row of tgs_webhooks holds webhook.json's exact bytes
 * (webhook-document.ts: url, secret, who set it, the last acknowledged id — all encrypted with
 * SESSION_ENCRYPTION_KEY when it is set). Saves are fenced by the account's lease, so delivery state moves
 * with the account and a former owner cannot move its cursor. A damaged document is set aside
 * (tgs_set_aside) and the account has no webhook, as with the file.
 */
import { decodeWebhookDocument, encodeWebhookDocument, NO_WEBHOOK } from '../webhook-document.js';
import type { StoreLog, WebhookRecord, WebhookStore } from '../types.js';
import { fencedTransaction, type FencedTarget } from './fence.js';

export interface PostgresWebhookStoreOptions extends FencedTarget {
  log: StoreLog;
  encryptionKey?: Uint8Array;
}

export function createPostgresWebhookStore(opts: PostgresWebhookStoreOptions): WebhookStore {
  const label = `the webhook of account ${opts.accountId} in PostgreSQL`;
  return {
    async load(): Promise<WebhookRecord> {
      const { rows } = await opts.pool.query<{ document: Buffer }>('SELECT document FROM tgs_webhooks WHERE account_id = $1', [opts.accountId]);
      if (!rows[0]) return { ...NO_WEBHOOK };
      const record = decodeWebhookDocument(label, rows[0].document, opts.encryptionKey);
      if (record) return record;
      await fencedTransaction(opts, async (client) => {
        await client.query(
          "INSERT INTO tgs_set_aside (account_id, what, reason, document) SELECT account_id, 'webhook', 'damaged', document FROM tgs_webhooks WHERE account_id = $1",
          [opts.accountId],
        );
        await client.query('DELETE FROM tgs_webhooks WHERE account_id = $1', [opts.accountId]);
      }).catch(() => undefined); // set aside by the next load that can write
      opts.log.error({ account: opts.accountId }, `${label} is damaged; set aside (tgs_set_aside), the account has no webhook until one is set again`);
      return { ...NO_WEBHOOK };
    },

    async save(record: WebhookRecord): Promise<void> {
      const document = Buffer.from(encodeWebhookDocument(record, opts.encryptionKey), 'utf8');
      await fencedTransaction(opts, (client) =>
        client.query('INSERT INTO tgs_webhooks (account_id, document) VALUES ($1, $2) ON CONFLICT (account_id) DO UPDATE SET document = EXCLUDED.document', [opts.accountId, document]),
      );
    },
  };
}
