/**
 * The API described by itself: an OpenAPI 3.1 document generated from the routes' own JSON schemas
 * (@fastify/swagger) at GET /openapi.json, and Swagger UI at /docs (@fastify/swagger-ui, its assets served
 * from this process — no CDN). Both are public: they describe the API, they hold no account data; every
 * /api route in them requires the bearer token (admin or account-scoped).
 *
 * Built on first use, not at start: loading both packages and their dependencies (yaml, @fastify/static,
 * glob, …) cost every start ~60 ms for pages few starts ever serve. This plugin records every route of the
 * app as it is added (registered before any route); the first request for /openapi.json or /docs builds a
 * small Fastify app of its own holding the same routes (method, URL, schema, config — handlers and schema
 * compilers are not needed to describe them) with both plugins, and /docs is answered by it.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import fp from 'fastify-plugin';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PREFIX = '/docs';

/** Request headers Swagger UI's asset routes look at (conditional and partial requests). */
const FORWARDED_HEADERS = ['accept', 'if-none-match', 'if-modified-since', 'range'];
/**
 * Response headers of the docs app not copied: the connection's own, a length Fastify computes again, and
 * the ones every answer of the service carries (app.ts).
 */
const NOT_COPIED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length', 'cache-control', 'x-content-type-options']);

function swaggerOptions(version: string) {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'telegram-service',
        version,
        description:
          'Logs Telegram user accounts in over MTProto and keeps them logged in. Every /api route needs ' +
          '`Authorization: Bearer <token>`: the admin token reaches everything, a scoped token (`tgs_…`) only its ' +
          'account. Errors are always `{"error": {"code", "message"}}`.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http' as const, scheme: 'bearer', description: 'The admin token (API_TOKEN or DATA_DIR/api_token) or an account-scoped token' },
        },
      },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'accounts', description: 'Creating, listing and deleting accounts (admin)' },
        { name: 'tokens', description: "An account's scoped tokens (admin)" },
        { name: 'account', description: 'One account: login, status, its user' },
        { name: 'single account', description: 'The same routes for the account `default` (/api/telegram)' },
        { name: 'service', description: 'The process itself' },
      ],
    },
  };
}

/** The docs app: the recorded routes (as descriptions only), @fastify/swagger and Swagger UI. */
async function buildDocsApp(routes: RouteOptions[], version: string): Promise<FastifyInstance> {
  const [{ default: swagger }, { default: swaggerUi }] = await Promise.all([import('@fastify/swagger'), import('@fastify/swagger-ui')]);
  const docs = Fastify();
  // The routes are never called here: no validator or serializer is compiled for them.
  docs.setValidatorCompiler(() => () => true);
  docs.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await docs.register(swagger, swaggerOptions(version));
  await docs.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    staticCSP: true,
    uiConfig: { persistAuthorization: false, deepLinking: true },
  });
  // Routes read now, when every onRoute hook of the app (tags, path parameters) has had its say.
  for (const route of routes) {
    docs.route({ method: route.method, url: route.url, ...(route.schema ? { schema: route.schema } : {}), ...(route.config ? { config: route.config } : {}), handler: async () => null });
  }
  await docs.ready();
  return docs;
}

async function openApi(app: FastifyInstance, { version }: { version: string }): Promise<void> {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    // HEAD twins of GET routes are made again by the docs app; this plugin's own routes are not the API's.
    if (route.method === 'HEAD' || route.url === OPENAPI_PATH || route.url === DOCS_PREFIX || route.url.startsWith(`${DOCS_PREFIX}/`)) return;
    routes.push(route);
  });

  let docsApp: Promise<FastifyInstance> | undefined;
  const docs = (): Promise<FastifyInstance> => {
    docsApp ??= buildDocsApp(routes, version).catch((err: unknown) => {
      docsApp = undefined; // the next request tries again
      throw err;
    });
    return docsApp;
  };

  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => (await docs()).swagger());

  const serveDocs = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_HEADERS) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const answer = await (await docs()).inject({ method: request.method as 'GET' | 'HEAD', url: request.url, headers });
    if (answer.statusCode === 404) {
      reply.callNotFound(); // our 404, in our error shape
      return reply;
    }
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !NOT_COPIED.has(name)) reply.header(name, value);
    }
    reply.code(answer.statusCode);
    return answer.rawPayload.length > 0 ? reply.send(answer.rawPayload) : reply.send(); // a redirect has no body
  };
  app.get(DOCS_PREFIX, { schema: { hide: true } }, serveDocs);
  app.get(`${DOCS_PREFIX}/*`, { schema: { hide: true } }, serveDocs);
}

/** Not encapsulated: it must see every route of the app. */
export const openApiPlugin = fp(openApi, { name: 'openapi' });
