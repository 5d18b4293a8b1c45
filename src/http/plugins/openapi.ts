/**
 * The API described by itself: an OpenAPI 3.1 document generated from the routes' own JSON schemas
 * (@fastify/swagger) at GET /openapi.json, and Swagger UI at /docs (@fastify/swagger-ui, its assets served
 * from this process — no CDN). Both are public: they describe the API, they hold no account data; every
 * /api route in them requires the bearer token (admin or account-scoped).
 * Registered before any route: the document is built from the routes as they are added.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PREFIX = '/docs';

async function openApi(app: FastifyInstance, { version }: { version: string }): Promise<void> {
  await app.register(swagger, {
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
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'The admin token (API_TOKEN or DATA_DIR/api_token) or an account-scoped token' },
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
  });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    staticCSP: true,
    uiConfig: { persistAuthorization: false, deepLinking: true },
  });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}

/** Not encapsulated: it must see every route of the app. */
export const openApiPlugin = fp(openApi, { name: 'openapi' });
