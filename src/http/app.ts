/**
 * The HTTP app, a tree of encapsulated plugins:
 *
 *   root — error + not-found handlers, security headers, debug request log, request metrics
 *   ├── GET /openapi.json, /docs (Swagger UI)          (no token: the API's description, no data)
 *   ├── GET /metrics                                   (admin token or METRICS_TOKEN)
 *   ├── GET /healthz                                   (no token)
 *   ├── GET /, GET /console/:file                      the web console (no token to load it; strict CSP)
 *   └── /api — bearer auth on every route, including unknown ones (admin or account-scoped token);
 *       │      login rate limit per client address on the login steps
 *       ├── POST, GET /accounts                        (admin)
 *       ├── /accounts/:id — the account, resolved first (404 for another account's token); touch()
 *       │   ├── GET /, GET /status;  DELETE /          (admin)
 *       │   ├── /auth/{send-code,resend-code,verify-code,verify-password,logout}; /auth/qr POST, GET
 *       │   ├── /me
 *       │   ├── /dialogs, /messages, /messages/read            (the account API)
 *       │   ├── /events (SSE or JSON), /webhook PUT, GET, DELETE
 *       │   └── /tokens  POST, GET;  DELETE /tokens/:tokenId   (admin)
 *       └── /telegram — the same routes for the account `default` (the single-account API)
 *
 * Around it: a connection cap that sheds idle connections without a valid token first
 * (connection-guard.ts); HTTP_REQUEST_TIMEOUT for a request to arrive in full (then 408); an answer given
 * before the request's body arrived (a 401 to a huge upload) closes the connection instead of draining
 * the body; an empty body with a JSON content type is accepted on the routes that take no body.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { AccountRegistry } from '../accounts/registry.js';
import type { AccountForwarding } from '../cluster/forwarding.js';
import type { RemoteFeeds } from '../events/feed.js';
import { DEFAULTS } from '../config/load-config.js';
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/types.js';
import { guardConnections } from './connection-guard.js';
import { lazyRequestLoggerFactory, logsAt } from './request-logger.js';
import { LazySchemas } from './lazy-schemas.js';
import { HttpError } from './errors.js';
import { createAuthHook, type Principal } from './plugins/auth.js';
import { handleClientError, handleFrameworkError, installErrorHandling, notFoundMessage } from './plugins/error-handling.js';
import { applyLoginRateLimit, DEFAULT_LOGIN_RATE_LIMIT, type LoginRateLimit } from './plugins/login-rate-limit.js';
import { accountsRoutes } from './routes/accounts.js';
import { StreamBook } from './routes/account/events.js';
import { DEFAULT_EVENTS_CONFIG } from '../config/load-config.js';
import { healthzRoute } from './routes/healthz.js';
import { consoleRoutes } from './routes/console.js';
import type { ConsoleAssets } from '../console/assets.js';
import { openApiPlugin } from './plugins/openapi.js';
import { metricsHttpPlugin, recordHttpRequest } from './plugins/metrics.js';
import type { ServiceMetrics } from '../metrics/service-metrics.js';
import { LOG_MESSAGES } from '../logging/messages.js';

/** Request bodies are tiny JSON objects; anything bigger is refused with 413 before parsing. */
export const BODY_LIMIT_BYTES = 16 * 1024;
/**
 * An answer given before the request's body was read in full (a 401 to a huge upload, 413, 415) leaves
 * the body to arrive, which Node would drain for up to HTTP_REQUEST_TIMEOUT. It gets this long to finish
 * (a body's last bytes, a chunked body's terminator, may still be on their way: the connection stays
 * usable for keep-alive); then the connection is closed. The wait also gives the client time to read the
 * answer before the close.
 */
const EARLY_ANSWER_GRACE_MS = 1_000;

export interface BuildAppOptions {
  config: Pick<Config, 'apiToken'> & Partial<Pick<Config, 'loginRateLimit' | 'metricsToken' | 'httpMaxConnections' | 'httpRequestTimeoutMs' | 'events'>>;
  registry: AccountRegistry;
  /** The service's version, for the OpenAPI document. */
  version?: string;
  /** The web console's files: GET / and /console/:file (absent: no console). */
  console?: ConsoleAssets;
  /** Prometheus metrics: GET /metrics and the HTTP measurements (absent: no /metrics). */
  metrics?: ServiceMetrics;
  logger: FastifyBaseLogger;
  /** A cluster (STORE=postgres): requests for accounts held by other instances are forwarded there… */
  forwarding?: AccountForwarding;
  /** … except their events, read here from the database. */
  remoteEvents?: RemoteFeeds;
  /**
   * The route schemas' compilers (compiled on first use): the caller warms them up when the start's own
   * work is done (main.ts: once mtcute is loaded). Absent: warmed up as soon as the server listens.
   */
  schemas?: LazySchemas;
}

export function buildApp({ config, registry, logger, version = '0.0.0', metrics, console: consoleAssets, forwarding, remoteEvents, schemas: given }: BuildAppOptions): FastifyInstance {
  const requestTimeoutMs = config.httpRequestTimeoutMs ?? parseDuration(DEFAULTS.httpRequestTimeout)!;
  const schemas = given ?? new LazySchemas();
  const app = Fastify({
    loggerInstance: logger,
    // request.log is made on first use: most requests write no line (request-logger.ts).
    childLoggerFactory: lazyRequestLoggerFactory,
    // Fastify's own request lines are off: ours below is at debug level, without bodies or headers.
    logController: new LogController({ disableRequestLogging: true }),
    frameworkErrors: (err, request, reply) => {
      setCommonHeaders(reply);
      handleFrameworkError(err, request, reply);
    },
    // While closing, Fastify's own 503 would not have our error shape; the onRequest hook below answers.
    return503OnClosing: false,
    // A request that takes longer than this is cut with 408 (slow clients must not pin connections forever).
    requestTimeout: requestTimeoutMs,
    clientErrorHandler: handleClientError,
    bodyLimit: BODY_LIMIT_BYTES,
    http: {
      // Node answers an HTTP/1.1 request without Host itself, with an empty 400; the hook below answers
      // it in our JSON error shape instead.
      requireHostHeader: false,
      headersTimeout: Math.min(60_000, requestTimeoutMs),
      // Node looks for timed-out requests this often (30 s by default, which would double a short timeout).
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(requestTimeoutMs / 4))),
    },
    // Types are what the schema says: "123" is not turned into 123 nor 123 into "123".
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // Route schemas compiled on first use, the rest once listening (lazy-schemas.ts): not before the first answer.
    schemaController: { compilersFactory: schemas.compilersFactory },
  }) as unknown as FastifyInstance;
  if (!given) app.addHook('onListen', async () => schemas.warmUp(app.log));

  installErrorHandling(app);
  const connections = guardConnections(app.server, {
    maxConnections: config.httpMaxConnections ?? DEFAULTS.httpMaxConnections,
    log: logger,
  });
  acceptEmptyJsonWithoutBodySchema(app);

  // Graceful stop: requests already running finish; any request arriving meanwhile (on a kept-alive
  // connection) gets 503 SHUTTING_DOWN, and its connection is closed. Event streams end at once.
  let closing = false;
  const streams = new StreamBook();
  app.addHook('preClose', async () => {
    closing = true;
    streams.stopping.abort();
    // A response finishing after this must not leave its keep-alive connection open: close() would wait
    // for that idle connection (only connections idle at the moment of close() are dropped).
    connections.closeAfterResponses();
  });
  // One hook per stage for what every request needs. This one stays async: it runs inside Node's parser
  // callback, and as a callback-style hook (a741f41, reverted in 6493106; tried again on 2026-11-30 with
  // only its success path synchronous) a later request of a kept-alive connection was reset whenever an
  // answer came before the request's body was read (a 404 for a POST with a body, a huge body refused):
  // the fuzz run fails with FUZZ_SEED=927700177 or 658861932. The promise's microtask turn avoids it.
  app.addHook('onRequest', async (request, reply) => {
    setCommonHeaders(reply);
    if (closing) {
      reply.header('connection', 'close');
      throw new HttpError(503, 'SHUTTING_DOWN', 'The service is shutting down');
    }
    const { httpVersionMajor, httpVersionMinor } = request.raw;
    const isHttp11OrLater = httpVersionMajor > 1 || (httpVersionMajor === 1 && httpVersionMinor >= 1);
    if (isHttp11OrLater && !request.headers.host) {
      throw new HttpError(400, 'BAD_REQUEST', 'An HTTP/1.1 request must have a Host header');
    }
  });
  // The hooks below run after the request was parsed: callback-style, as an async hook costs every
  // request a promise and a microtask turn.
  app.addHook('onResponse', (request, reply, done) => {
    // Answered before the body arrived in full: close the connection unless the rest comes at once.
    const req = request.raw;
    // (An injected request has no real socket to cut.)
    if (!req.complete && typeof req.socket?.destroy === 'function') {
      const cut = setTimeout(() => req.socket.destroy(), EARLY_ANSWER_GRACE_MS);
      cut.unref();
      req.once('end', () => clearTimeout(cut));
    }
    if (metrics) recordHttpRequest(metrics, request, reply);
    // The line's fields are gathered only when it is written (request.routeOptions builds an object).
    if (logsAt(request.log, 'debug')) {
      request.log.debug(
        {
          method: request.method,
          route: request.routeOptions.url ?? null,
          statusCode: reply.statusCode,
          ms: Math.round(reply.elapsedTime),
        },
        LOG_MESSAGES.httpRequest,
      );
    }
    done();
  });

  app.decorateRequest('principal', null);
  app.decorateRequest('account', null);
  // First: the OpenAPI document is built from the routes as they are added.
  void app.register(openApiPlugin, { version });
  if (metrics) {
    void app.register(metricsHttpPlugin, {
      metrics,
      adminToken: config.apiToken,
      ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
      scoped: (token: string) => scopedPrincipal(registry, token),
    });
  }
  void app.register(healthzRoute);
  if (consoleAssets) void app.register(consoleRoutes, { assets: consoleAssets });
  void app.register(
    async (api) => {
      // A request whose token was accepted is a client of the API: its connection is never shed for a newcomer.
      const authenticate = createAuthHook({ adminToken: config.apiToken, scoped: (token) => scopedPrincipal(registry, token), accepted: (request) => connections.trust(request.raw.socket) });
      api.addHook('onRequest', authenticate);
      // Unknown /api paths: the token is checked first, so an anonymous caller learns nothing about routes.
      api.setNotFoundHandler({ preHandler: authenticate }, async (request) => {
        throw new HttpError(404, 'NOT_FOUND', notFoundMessage(request.method));
      });
      await applyLoginRateLimit(api, (config.loginRateLimit ?? DEFAULT_LOGIN_RATE_LIMIT) satisfies LoginRateLimit, forwarding ? (request) => forwarding.isForwarded(request) : undefined);
      const events = { settings: config.events ?? DEFAULT_EVENTS_CONFIG, streams, ...(remoteEvents ? { remote: remoteEvents } : {}) };
      await api.register(accountsRoutes, { registry, events, ...(forwarding ? { forwarding } : {}) });
    },
    { prefix: '/api' },
  );
  return app;
}

/**
 * What every answer carries (set before anything can answer, so errors carry it too; a route may change it).
 * No answer of the API may be cached: statuses, messages and tokens are current or secret.
 */
function setCommonHeaders(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store');
  reply.header('x-content-type-options', 'nosniff');
}

async function scopedPrincipal(registry: AccountRegistry, token: string): Promise<Principal | undefined> {
  const owner = await registry.authenticateScoped(token);
  return owner ? { kind: 'account', ...owner } : undefined;
}

/**
 * `content-type: application/json` with an empty body is accepted (as no body) on the routes that take
 * no body — logout, resend-code — as curl helpers that always set the header send it; routes that take
 * a body still refuse it with INVALID_JSON. Anything else goes to Fastify's own JSON parser.
 */
function acceptEmptyJsonWithoutBodySchema(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' && request.routeOptions.schema?.body === undefined) {
      done(null, undefined);
      return;
    }
    parseJson(request, body as string, done);
  });
}
