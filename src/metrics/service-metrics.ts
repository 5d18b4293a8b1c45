/**
 * The service's Prometheus metrics (prom-client), in one registry: accounts by state (read at scrape
 * time), what the accounts report (validations, recoveries, revocations, reconnects, flood waits), login
 * attempts by outcome, HTTP requests by route and status with latency histograms, and each account's events
 * (journal and webhook delivery, read at scrape time from the journal and the delivery loop themselves).
 * Labels hold only outcomes, error codes, Telegram method names, route templates and account ids — never a
 * phone number, an account's data or a token.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { AccountObserver, AccountStatus } from '../account/types.js';
import type { AccountEvents } from '../events/account-events.js';
import type { WebhookDelivery } from '../events/webhook-delivery.js';
import { HttpRequestMetrics } from './http-requests.js';

const PREFIX = 'telegram_service_';

export interface ServiceMetrics {
  registry: Registry;
  /** Handed to every account. */
  accountObserver: AccountObserver;
  /** One finished HTTP request (route: the route's template, never the raw path). */
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  loginAttempt(step: string, outcome: string): void;
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  contentType: string;
}

/** One account's event pipeline and webhook delivery (AccountRegistry.eventParts()). */
export interface AccountEventsSource {
  id: string;
  events: AccountEvents;
  webhook: WebhookDelivery | undefined;
}

export interface MetricsSources {
  /** Read at every scrape: accounts by state, persistence errors. */
  statuses(): Iterable<AccountStatus>;
  /** Read at every scrape: each account's journal and webhook delivery (an account gone has no series). */
  events?(): Iterable<AccountEventsSource>;
  /** The clock the delivery lag is measured with. */
  now?(): number;
}

const EVENT_LOOP_SAMPLE_MS = 1_000;

export function createServiceMetrics(sources: MetricsSources): ServiceMetrics {
  const { statuses } = sources;
  const registry = new Registry();
  // The event-loop delay histogram (…_eventloop_lag_p50/p90/p99/min/max/mean/stddev) is sampled once a
  // second: prom-client's default, every 10 ms, woke an idle service 100 times a second — ~3 ms of CPU a
  // second, all of its idle CPU. …_eventloop_lag_seconds, measured at each scrape, is not affected.
  collectDefaultMetrics({ register: registry, prefix: PREFIX, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  registerEventMetrics(registry, sources.events ?? (() => []), sources.now ?? Date.now);

  const states = ['logged_out', 'code_sent', 'qr_pending', 'password_required', 'authenticated', 'expired', 'revoked'] as const;
  new Gauge({
    name: `${PREFIX}accounts`,
    help: 'Accounts by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(states.map((s) => [s, 0]));
      for (const status of statuses()) counts.set(status.state, (counts.get(status.state) ?? 0) + 1);
      for (const [state, count] of counts) this.set({ state }, count);
    },
  });
  new Gauge({
    name: `${PREFIX}accounts_offline`,
    help: 'Authenticated accounts whose connection to Telegram is down right now',
    registers: [registry],
    collect() {
      let n = 0;
      for (const status of statuses()) if (status.authenticated && status.session.connection === 'offline') n++;
      this.set(n);
    },
  });
  new Gauge({
    name: `${PREFIX}accounts_persistence_errors`,
    help: 'Accounts whose latest write to the store failed (served from memory, retried)',
    registers: [registry],
    collect() {
      let n = 0;
      for (const status of statuses()) if (status.persistenceError) n++;
      this.set(n);
    },
  });

  const validations = new Counter({ name: `${PREFIX}validations_total`, help: 'Session validations and probes, by outcome', labelNames: ['outcome'], registers: [registry] });
  const recoveries = new Counter({ name: `${PREFIX}recoveries_total`, help: 'AUTH_KEY_UNREGISTERED recoveries, by outcome', labelNames: ['outcome'], registers: [registry] });
  const revocations = new Counter({ name: `${PREFIX}revocations_total`, help: 'Sessions Telegram ended, by reason', labelNames: ['reason'], registers: [registry] });
  const reconnects = new Counter({ name: `${PREFIX}reconnects_total`, help: 'Connections to Telegram brought back up', registers: [registry] });
  const floodWaits = new Counter({ name: `${PREFIX}flood_waits_total`, help: 'FLOOD_WAITs from Telegram, by method', labelNames: ['method'], registers: [registry] });
  const floodSeconds = new Counter({ name: `${PREFIX}flood_wait_seconds_total`, help: 'Seconds Telegram asked to wait, by method', labelNames: ['method'], registers: [registry] });
  const logins = new Counter({
    name: `${PREFIX}login_attempts_total`,
    help: 'Login steps by step and outcome (the state reached, or the error code)',
    labelNames: ['step', 'outcome'],
    registers: [registry],
  });
  const loginAttempt = (step: string, outcome: string): void => logins.inc({ step, outcome: errorCodeLabel(outcome) });
  const http = new HttpRequestMetrics(
    registry,
    { requests: `${PREFIX}http_requests_total`, latency: `${PREFIX}http_request_duration_seconds` },
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
  );

  return {
    registry,
    contentType: registry.contentType,
    accountObserver: {
      validation: (outcome) => validations.inc({ outcome }),
      recovery: (outcome) => recoveries.inc({ outcome }),
      revocation: (reason) => revocations.inc({ reason: errorCodeLabel(reason) }),
      reconnect: () => reconnects.inc(),
      loginAttempt,
      floodWait: (method, seconds) => {
        floodWaits.inc({ method });
        floodSeconds.inc({ method }, seconds);
      },
    },
    httpRequest: (method, route, status, seconds) => http.record(method, route, status, seconds),
    loginAttempt,
    render: () => registry.metrics(),
  };
}

/**
 * Per account (labelled by its id only), read at scrape time from the journal and the webhook delivery
 * themselves, never from counts kept beside them. Every scrape starts from no series, so a deleted account's
 * series go with it.
 */
function registerEventMetrics(registry: Registry, parts: () => Iterable<AccountEventsSource>, now: () => number): void {
  const perAccount = (name: string, help: string, read: (part: AccountEventsSource) => number | undefined): void => {
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      labelNames: ['account'],
      registers: [registry],
      collect() {
        this.reset();
        for (const part of parts()) {
          const value = read(part);
          if (value !== undefined) this.set({ account: part.id }, value);
        }
      },
    });
  };
  new Counter({
    name: `${PREFIX}events_journaled_total`,
    help: 'Events journaled per account, ever (the newest event id: ids are never reused, so it counts across restarts)',
    labelNames: ['account'],
    registers: [registry],
    collect() {
      this.reset();
      for (const part of parts()) this.inc({ account: part.id }, part.events.bounds().lastId);
    },
  });
  perAccount('events_journal_events', 'Events the journal holds now (EVENTS_MAX_SIZE and EVENTS_MAX_AGE drop the oldest)', ({ events }) => {
    const { firstId, lastId } = events.bounds();
    return lastId - firstId + 1;
  });
  perAccount('events_journal_bytes', 'Bytes the event journal takes on disk', ({ events }) => events.journalBytes());
  perAccount('events_pending', 'Events waiting to be written to the journal (grows while the disk refuses writes)', ({ events }) => events.status().pending);
  perAccount('webhook_backlog_events', 'Journaled events the webhook receiver has not acknowledged yet (accounts with a webhook)', ({ webhook }) => webhook?.view()?.backlog);
  new Gauge({
    name: `${PREFIX}webhook_lag_seconds`,
    help: 'Age of the oldest event the webhook receiver has not acknowledged (0: it has them all; accounts with a webhook)',
    labelNames: ['account'],
    registers: [registry],
    async collect() {
      this.reset();
      const lags = await Promise.all(
        [...parts()].map(async ({ id, webhook }) => {
          if (!webhook?.view()) return undefined;
          let oldest: number | null;
          try {
            oldest = await webhook.oldestUndeliveredAt();
          } catch {
            return undefined; // the journal cannot be read right now: no value rather than a wrong one
          }
          return { id, seconds: oldest === null ? 0 : Math.max(0, (now() - oldest) / 1000) };
        }),
      );
      for (const lag of lags) if (lag) this.set({ account: lag.id }, lag.seconds);
    },
  });
}

/** Only an identifier-like code becomes a label value (bounded, and never free text). */
function errorCodeLabel(text: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(text) ? text : 'other';
}
