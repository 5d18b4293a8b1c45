/**
 * The service's Prometheus metrics (prom-client), in one registry: accounts by state (read at scrape
 * time), what the accounts report (validations, recoveries, revocations, reconnects, flood waits), login
 * attempts by outcome, and HTTP requests by route and status with latency histograms. Labels hold only
 * outcomes, error codes, Telegram method names and route templates — never a phone number, an account's
 * data or a token.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AccountObserver, AccountStatus } from '../account/types.js';

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

/** `statuses` is read at every scrape (accounts by state, persistence errors). */
export function createServiceMetrics(statuses: () => Iterable<AccountStatus>): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: PREFIX });

  const states = ['logged_out', 'code_sent', 'password_required', 'authenticated', 'expired', 'revoked'] as const;
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
  const requests = new Counter({ name: `${PREFIX}http_requests_total`, help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const latency = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
    registers: [registry],
  });

  return {
    registry,
    contentType: registry.contentType,
    accountObserver: {
      validation: (outcome) => validations.inc({ outcome }),
      recovery: (outcome) => recoveries.inc({ outcome }),
      revocation: (reason) => revocations.inc({ reason: errorCodeLabel(reason) }),
      reconnect: () => reconnects.inc(),
      floodWait: (method, seconds) => {
        floodWaits.inc({ method });
        floodSeconds.inc({ method }, seconds);
      },
    },
    httpRequest(method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) });
      latency.observe({ method, route }, seconds);
    },
    loginAttempt(step, outcome) {
      logins.inc({ step, outcome: errorCodeLabel(outcome) });
    },
    render: () => registry.metrics(),
  };
}

/** Only an identifier-like code becomes a label value (bounded, and never free text). */
function errorCodeLabel(text: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(text) ? text : 'other';
}
