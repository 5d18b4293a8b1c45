/**
 * One account's webhook: its configuration and the delivery loop. Events are POSTed one at a time, in
 * journal order; the next only after the receiver acknowledged (2xx) the previous. A failure (no answer in
 * time, a non-2xx, a redirect, a refused connection) is retried with exponential backoff and jitter, for as
 * long as it takes — the cursor (last acknowledged id) is on disk, so a restart resumes where delivery
 * stood. At-least-once: a receiver can get an event again (an answer lost, a crash before the cursor was
 * written) and must drop repeated ids.
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { WebhookConfig, WebhookRecord, WebhookSetter, WebhookStore } from '../store/types.js';
import type { AccountEvents } from './account-events.js';
import { ACCOUNT_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, postWebhook } from './webhook-post.js';
import { parseWebhookUrl, type WebhookTargetPolicy } from './webhook-target.js';
import { LOG_MESSAGES } from '../logging/messages.js';
import { spreadDelayMs } from '../timing/backoff.js';

/** The cursor is written at most this often while deliveries succeed (and on stop). */
const CURSOR_WRITE_INTERVAL_MS = 1000;

export interface WebhookDeliveryOptions {
  accountId: string;
  events: AccountEvents;
  store: WebhookStore;
  policy: WebhookTargetPolicy;
  logger: Logger;
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  userAgent: string;
  now?: () => number;
  random?: () => number;
}

/** What GET /webhook and the account's status show (never the secret). */
export interface WebhookView {
  url: string;
  setBy: WebhookSetter;
  createdAt: string;
  lastDeliveredId: number;
  /** Journaled events not yet acknowledged by the receiver. */
  backlog: number;
  lastDeliveredAt: string | null;
  lastError: { message: string; at: string; status?: number } | null;
  /** Failed attempts in a row. */
  failures: number;
  nextAttemptAt: string | null;
  /** Events that left the journal (retention) before they could be delivered. */
  expiredUndelivered: number;
}

export class WebhookDelivery {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly agent = { http: new http.Agent({ keepAlive: true, maxSockets: 1 }), https: new https.Agent({ keepAlive: true, maxSockets: 1 }) };
  private record: WebhookRecord = { config: null, deliveredId: 0 };
  private savedDeliveredId = 0;
  private lastDeliveredAt: number | null = null;
  private lastError: WebhookView['lastError'] = null;
  private failures = 0;
  private nextAttemptAt: number | null = null;
  /** The event the loop is delivering (or waiting to retry): when it was journaled. */
  private attempting: { id: number; at: number } | null = null;
  private expiredUndelivered = 0;
  private loop: { controller: AbortController; done: Promise<void> } | null = null;
  private wake: (() => void) | null = null;
  private cursorTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Configuration changes one at a time. */
  private changing: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly opts: WebhookDeliveryOptions) {
    this.log = opts.logger.child({ account: opts.accountId, module: 'webhook' });
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  async start(): Promise<void> {
    this.record = await this.opts.store.load();
    this.savedDeliveredId = this.record.deliveredId;
    // Woken after the current turn's microtasks, where the event streams told by the same commit write
    // theirs: setting up a POST (HTTP client, signature) takes ~0.3 ms, and a stream's write of a line
    // already made should not wait behind it. The webhook waits only for those writes.
    let waking: NodeJS.Immediate | undefined;
    const unsubscribe = this.opts.events.subscribe(() => {
      waking ??= setImmediate(() => {
        waking = undefined;
        this.wake?.();
      });
    });
    this.unsubscribe = () => {
      unsubscribe();
      if (waking) clearImmediate(waking);
      waking = undefined;
    };
    this.startLoop();
  }

  view(): WebhookView | null {
    const config = this.record.config;
    if (!config) return null;
    const { lastId } = this.opts.events.bounds();
    return {
      url: config.url,
      setBy: config.setBy,
      createdAt: config.createdAt,
      lastDeliveredId: this.record.deliveredId,
      backlog: Math.max(0, lastId - this.record.deliveredId),
      lastDeliveredAt: this.lastDeliveredAt === null ? null : new Date(this.lastDeliveredAt).toISOString(),
      lastError: this.lastError ? { ...this.lastError } : null,
      failures: this.failures,
      nextAttemptAt: this.nextAttemptAt === null ? null : new Date(this.nextAttemptAt).toISOString(),
      expiredUndelivered: this.expiredUndelivered,
    };
  }

  /**
   * When the oldest event the receiver has not acknowledged was journaled (ms since the epoch), or null when it
   * has them all (or no webhook is set): what the delivery lag is measured from.
   */
  async oldestUndeliveredAt(): Promise<number | null> {
    if (!this.record.config || this.opts.events.bounds().lastId <= this.record.deliveredId) return null;
    if (this.attempting?.id === this.record.deliveredId + 1) return this.attempting.at;
    // Not picked up by the loop yet (journaled a moment ago): read from the journal.
    const [event] = await this.opts.events.read(this.record.deliveredId, 1);
    return event ? Date.parse(event.at) : null;
  }

  /**
   * Sets (or replaces) the webhook after checking where it points for `setBy`. Delivery starts after `after`
   * (default: the newest event now, so only new events are sent; the same URL again keeps its cursor).
   */
  set(input: { url: string; secret: string; after?: number }, setBy: WebhookSetter): Promise<WebhookView> {
    return this.exclusive(async () => {
      const url = parseWebhookUrl(input.url);
      await this.opts.policy.check(url, setBy);
      const { lastId } = this.opts.events.bounds();
      const sameUrl = this.record.config?.url === url.href;
      const deliveredId = input.after !== undefined ? Math.min(input.after, lastId) : sameUrl ? this.record.deliveredId : lastId;
      const config: WebhookConfig = { url: url.href, secret: input.secret, setBy, createdAt: new Date(this.now()).toISOString() };
      await this.stopLoop();
      await this.saveOrResume({ config, deliveredId });
      this.record = { config, deliveredId };
      this.savedDeliveredId = deliveredId;
      this.resetFailures();
      this.expiredUndelivered = 0;
      this.log.info({ setBy, deliveredId }, 'Webhook set');
      this.startLoop();
      return this.view()!;
    });
  }

  remove(): Promise<boolean> {
    return this.exclusive(async () => {
      if (!this.record.config) return false;
      await this.stopLoop();
      await this.saveOrResume({ config: null, deliveredId: 0 });
      this.record = { config: null, deliveredId: 0 };
      this.savedDeliveredId = 0;
      this.resetFailures();
      this.log.info({}, 'Webhook removed');
      return true;
    });
  }

  /** Stores a new configuration; when the store refuses, delivery goes on as it was (and the caller is told). */
  private async saveOrResume(record: WebhookRecord): Promise<void> {
    try {
      await this.opts.store.save(record);
    } catch (err) {
      this.startLoop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await this.changing.catch(() => undefined);
    await this.stopLoop();
    this.agent.http.destroy();
    this.agent.https.destroy();
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.changing.then(() => {
      if (this.stopped) throw new Error('webhook delivery stopped');
      return task();
    });
    this.changing = result.catch(() => undefined);
    return result;
  }

  private resetFailures(): void {
    this.failures = 0;
    this.lastError = null;
    this.nextAttemptAt = null;
  }

  // ───────────────────────────── the loop ─────────────────────────────

  private startLoop(): void {
    if (this.loop || !this.record.config || this.stopped) return;
    const controller = new AbortController();
    const done = this.run(this.record.config, controller.signal).catch((err: unknown) => {
      this.log.error({ err }, 'Webhook delivery loop failed unexpectedly');
    });
    this.loop = { controller, done };
  }

  private async stopLoop(): Promise<void> {
    const loop = this.loop;
    if (!loop) return;
    this.loop = null;
    loop.controller.abort();
    this.wake?.();
    await loop.done;
    clearTimeout(this.cursorTimer);
    this.cursorTimer = undefined;
    await this.saveCursor();
  }

  private async run(config: WebhookConfig, signal: AbortSignal): Promise<void> {
    while (!signal.aborted && !this.opts.events.isClosed) {
      this.skipExpired();
      let event;
      try {
        [event] = await this.opts.events.read(this.record.deliveredId, 1);
      } catch (err) {
        this.failures++;
        this.lastError = { message: 'the event journal cannot be read', at: new Date(this.now()).toISOString() };
        this.log.error({ err }, 'Webhook: the event journal cannot be read; retrying');
        await sleep(this.backoffMs(), signal);
        continue;
      }
      if (!event) {
        await this.waitForEvent(signal);
        continue;
      }
      this.attempting = { id: event.id, at: Date.parse(event.at) };
      const body = JSON.stringify(this.opts.events.toWire(event));
      const outcome = await postWebhook({
        config,
        body,
        headers: {
          'user-agent': this.opts.userAgent,
          [EVENT_ID_HEADER]: String(event.id),
          [EVENT_TYPE_HEADER]: event.type,
          [ACCOUNT_HEADER]: this.opts.accountId,
        },
        policy: this.opts.policy,
        timeoutMs: this.opts.timeoutMs,
        agent: this.agent,
        signal,
      });
      if (signal.aborted) return;
      if (outcome.ok) {
        if (this.failures > 0) this.log.info({ failures: this.failures, eventId: event.id }, LOG_MESSAGES.webhookReachableAgain);
        this.record.deliveredId = event.id;
        this.lastDeliveredAt = this.now();
        this.resetFailures();
        this.scheduleCursorWrite();
        continue;
      }
      this.failures++;
      const delay = this.backoffMs();
      this.nextAttemptAt = this.now() + delay;
      this.lastError = { message: outcome.error, at: new Date(this.now()).toISOString(), ...(outcome.status ? { status: outcome.status } : {}) };
      if (this.failures === 1 || this.failures % 10 === 0) {
        this.log.warn({ eventId: event.id, failures: this.failures, retryInMs: delay, error: outcome.error }, LOG_MESSAGES.webhookDeliveryFailed);
      }
      await sleep(delay, signal);
    }
  }

  /** Events retention removed before they were delivered: said in the state, then delivery moves on. */
  private skipExpired(): void {
    const { firstId } = this.opts.events.bounds();
    if (this.record.deliveredId >= firstId - 1) return;
    const skipped = firstId - 1 - this.record.deliveredId;
    this.expiredUndelivered += skipped;
    this.record.deliveredId = firstId - 1;
    this.lastError = { message: `${skipped} events left the journal (retention) before they could be delivered`, at: new Date(this.now()).toISOString() };
    this.log.error({ skipped }, LOG_MESSAGES.webhookEventsExpired);
    this.scheduleCursorWrite();
  }

  private backoffMs(): number {
    return spreadDelayMs(this.failures, this.opts.retryBaseMs, this.opts.retryMaxMs, this.random);
  }

  private waitForEvent(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.wake = null;
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
      // An event journaled between the read and now would otherwise wait for the next one.
      if (this.opts.events.bounds().lastId > this.record.deliveredId) done();
    });
  }

  private scheduleCursorWrite(): void {
    if (this.cursorTimer) return;
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = undefined;
      void this.saveCursor();
    }, CURSOR_WRITE_INTERVAL_MS);
    this.cursorTimer.unref();
  }

  private async saveCursor(): Promise<void> {
    if (this.record.deliveredId === this.savedDeliveredId || !this.record.config) return;
    const record = { config: this.record.config, deliveredId: this.record.deliveredId };
    try {
      await this.opts.store.save(record);
      this.savedDeliveredId = record.deliveredId;
    } catch (err) {
      // Not fatal: delivery goes on, and events since the saved cursor may be sent again after a restart (or by
      // the account's next owner). Once stopped (the account let go here) it is not retried.
      this.log.warn({ err }, 'Could not save the webhook delivery cursor; retrying');
      if (!this.stopped) this.scheduleCursorWrite();
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
