/**
 * What an account has besides its session: its event pipeline (journal), webhook delivery and Idempotency-Keys,
 * opened before the account starts and closed after it stops. A part that cannot be opened (an unreadable
 * journal) is logged and left out — the account still serves its session, without events — rather than
 * keeping the account (or the service) from starting.
 */
import type { Logger } from 'pino';
import { DEFAULT_EVENTS_CONFIG } from '../config/load-config.js';
import type { Config } from '../config/types.js';
import { AccountEvents } from '../events/account-events.js';
import { WebhookDelivery } from '../events/webhook-delivery.js';
import type { WebhookTargetPolicy } from '../events/webhook-target.js';
import type { AccountsStore, IdempotencyStore } from '../store/types.js';
import { LOG_MESSAGES } from '../logging/messages.js';

/** The retry backoff of webhook deliveries starts here (and doubles up to WEBHOOK_RETRY_MAX). */
const WEBHOOK_RETRY_BASE_MS = 1000;

export interface AccountEventParts {
  events?: AccountEvents;
  webhook?: WebhookDelivery;
  idempotency?: IdempotencyStore;
}

export interface EventPartsContext {
  config: Config;
  store: AccountsStore;
  logger: Logger;
  policy: WebhookTargetPolicy;
  userAgent: string;
}

export async function openEventParts(id: string, ctx: EventPartsContext): Promise<AccountEventParts> {
  const settings = ctx.config.events ?? DEFAULT_EVENTS_CONFIG;
  const storeLog = ctx.logger.child({ account: id, module: 'store' });
  const log = ctx.logger.child({ account: id });
  const parts: AccountEventParts = {};
  const events = new AccountEvents({
    accountId: id,
    journal: ctx.store.eventJournal(id, storeLog, { maxBytes: settings.journalMaxBytes, maxAgeMs: settings.journalMaxAgeMs }),
    logger: ctx.logger,
  });
  try {
    await events.open();
    parts.events = events;
    parts.webhook = new WebhookDelivery({
      accountId: id,
      events,
      store: ctx.store.webhookStore(id, storeLog),
      policy: ctx.policy,
      logger: ctx.logger,
      timeoutMs: settings.webhookTimeoutMs,
      retryBaseMs: Math.min(WEBHOOK_RETRY_BASE_MS, settings.webhookRetryMaxMs),
      retryMaxMs: settings.webhookRetryMaxMs,
      userAgent: ctx.userAgent,
    });
  } catch (err) {
    log.error({ err }, LOG_MESSAGES.journalUnavailable);
  }
  const idempotency = ctx.store.idempotencyStore(id, storeLog);
  try {
    await idempotency.open();
    parts.idempotency = idempotency;
  } catch (err) {
    log.error({ err }, 'The Idempotency-Keys cannot be read; sends with an Idempotency-Key are refused until they can');
  }
  return parts;
}

/** Starts webhook delivery (after the account started). */
export async function startDelivery(id: string, parts: AccountEventParts, logger: Logger): Promise<void> {
  try {
    await parts.webhook?.start();
  } catch (err) {
    logger.error({ err, account: id }, 'The webhook cannot be loaded; no deliveries until it is set again');
    parts.webhook = undefined;
  }
}

export async function closeEventParts(parts: AccountEventParts): Promise<void> {
  await parts.webhook?.stop().catch(() => undefined);
  await parts.events?.close().catch(() => undefined);
  await parts.idempotency?.close().catch(() => undefined);
}
