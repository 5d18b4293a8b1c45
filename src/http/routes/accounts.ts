/**
 * /api/accounts: the collection (admin only) — POST creates an account, GET lists them a page at a time —
 * and /api/accounts/:id/…, each account's own routes (see routes/account/).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DEFAULT_ACCOUNT_ID, RegistryError, type AccountRegistry } from '../../accounts/registry.js';
import { mayReach, requireAdmin } from '../plugins/auth.js';
import { ACCOUNT_LIST_SCHEMA, ACCOUNT_STATUS_SCHEMA, apiResponses, CREATE_ACCOUNT_BODY, LIST_ACCOUNTS_QUERY, STATUS_SCHEMA } from '../schemas.js';
import type { AccountForwarding } from '../../cluster/forwarding.js';
import { accountRoutes, type AccountScopeOptions } from './account/index.js';

const DEFAULT_PAGE = 100;

function notFound(): RegistryError {
  return new RegistryError('ACCOUNT_NOT_FOUND', 'No such account');
}

export async function accountsRoutes(
  app: FastifyInstance,
  { registry, events, forwarding }: { registry: AccountRegistry; events: AccountScopeOptions['events']; forwarding?: AccountForwarding },
): Promise<void> {
  app.post<{ Body: { id: string } }>(
    '/accounts',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Create an account (admin)',
        body: CREATE_ACCOUNT_BODY,
        response: apiResponses(ACCOUNT_STATUS_SCHEMA, 201),
      },
    },
    async (request, reply) => {
      requireAdmin(request);
      return reply.code(201).send(await registry.createAndDescribe(request.body.id));
    },
  );

  app.get<{ Querystring: { limit?: string; cursor?: string } }>(
    '/accounts',
    {
      schema: {
        tags: ['accounts'],
        summary: 'List accounts a page at a time (admin)',
        querystring: LIST_ACCOUNTS_QUERY,
        response: apiResponses(ACCOUNT_LIST_SCHEMA),
      },
    },
    async (request) => {
      requireAdmin(request);
      const limit = request.query.limit === undefined ? DEFAULT_PAGE : Number(request.query.limit);
      return registry.list(limit, request.query.cursor);
    },
  );

  await app.register(accountRoutes, {
    prefix: '/accounts/:id',
    registry,
    byId: true,
    tag: 'account',
    events,
    statusSchema: ACCOUNT_STATUS_SCHEMA,
    idOf: (request: FastifyRequest) => (request.params as { id: string }).id,
    ...(forwarding ? { forwarding } : {}),
    resolve: (request: FastifyRequest) => {
      const { id } = request.params as { id: string };
      // Existence is not revealed to a token scoped to another account.
      if (!mayReach(request, id)) throw notFound();
      return forwarding ? (forwarding.isLocal(id) ? registry.get(id) : undefined) : registry.require(id);
    },
  });

  await app.register(accountRoutes, {
    prefix: '/telegram',
    registry,
    byId: false,
    tag: 'single account',
    events,
    statusSchema: STATUS_SCHEMA,
    idOf: () => DEFAULT_ACCOUNT_ID,
    ...(forwarding ? { forwarding } : {}),
    resolve: (request: FastifyRequest) => {
      if (!mayReach(request, DEFAULT_ACCOUNT_ID)) throw notFound();
      if (forwarding) return forwarding.isLocal(DEFAULT_ACCOUNT_ID) ? registry.get(DEFAULT_ACCOUNT_ID) : undefined;
      return registry.get(DEFAULT_ACCOUNT_ID) ?? registry.defaultAccount(); // created on first use
    },
  });
}
