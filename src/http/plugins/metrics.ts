/**
 * GET /metrics (Prometheus text format) and the HTTP measurements behind it: every request by route
 * template and status with its latency, and every login step by outcome. /metrics takes the admin token
 * or METRICS_TOKEN (a token that can read metrics and nothing else); a token scoped to an account gets 403.
 * Not encapsulated: the login-step hook reaches every login route; every request is measured by
 * recordHttpRequest(), called from the app's own onResponse hook.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { ServiceMetrics } from '../../metrics/service-metrics.js';
import { HttpError } from '../errors.js';
import { createAuthHook, secretMatcher, type Principal } from './auth.js';

export interface MetricsPluginOptions {
  metrics: ServiceMetrics;
  adminToken: string;
  /** A token for the scraper only (METRICS_TOKEN). */
  metricsToken?: string;
  /** Resolves an account-scoped token (to answer it 403 rather than 401). */
  scoped: (token: string) => Principal | undefined | Promise<Principal | undefined>;
}

async function metricsPlugin(app: FastifyInstance, opts: MetricsPluginOptions): Promise<void> {
  const { metrics } = opts;
  // Login steps only: a hook of those routes, not one every request runs.
  app.addHook('onRoute', (route) => {
    if (route.config?.loginStep !== true) return;
    const step = lastSegment(route.url);
    const countAttempt: onSendHookHandler = (_request, _reply, payload, done) => {
      if (typeof payload === 'string') metrics.loginAttempt(step, loginOutcome(payload));
      done(null, payload);
    };
    route.onSend = route.onSend === undefined ? [countAttempt] : [...[route.onSend].flat(), countAttempt];
  });

  const isMetricsToken = opts.metricsToken ? secretMatcher(opts.metricsToken) : undefined;
  const authenticate = createAuthHook({
    adminToken: opts.adminToken,
    scoped: (token) => (isMetricsToken?.(token) ? { kind: 'metrics' } : opts.scoped(token)),
  });
  app.get(
    '/metrics',
    {
      onRequest: authenticate,
      schema: {
        tags: ['service'],
        summary: 'Prometheus metrics (the admin token or METRICS_TOKEN)',
        response: { 200: { type: 'string', description: 'Prometheus text exposition format' } },
      },
    },
    async (request: FastifyRequest, reply) => {
      if (request.principal?.kind === 'account') throw new HttpError(403, 'FORBIDDEN', 'Metrics need the admin token or METRICS_TOKEN');
      return reply.type(metrics.contentType).send(await metrics.render());
    },
  );
}

/**
 * Measures one finished request: called by the app's onResponse hook (app.ts), which every request runs
 * anyway — a hook of its own would cost every request one more.
 */
export function recordHttpRequest(metrics: ServiceMetrics, request: FastifyRequest, reply: FastifyReply): void {
  metrics.httpRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
}

function lastSegment(url: string | undefined): string {
  return url?.slice(url.lastIndexOf('/') + 1) || 'unknown';
}

/** The state a login step reached, or its error code (both bounded sets). */
function loginOutcome(payload: string): string {
  try {
    const body = JSON.parse(payload) as { state?: unknown; error?: { code?: unknown } };
    if (typeof body.state === 'string') return body.state;
    if (typeof body.error?.code === 'string') return body.error.code;
  } catch {
    // not JSON: counted as other
  }
  return 'other';
}

export const metricsHttpPlugin = fp(metricsPlugin, { name: 'metrics' });
