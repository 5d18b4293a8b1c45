/**
 * Everything about one account, mounted twice: at /api/accounts/:id (any account, by id) and at
 * /api/telegram (the account `default`, as the single-account service had it). The scope resolves the
 * account before anything else runs — a token scoped to another account gets 404, as if it did not exist —
 * and marks API activity (account.touch) once the request passed validation.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountRegistry } from '../../../accounts/registry.js';
import type { Account } from '../../../account/types.js';
import { ACCOUNT_ID_PATTERN } from '../../../accounts/account-id.js';
import type { EventsConfig } from '../../../config/types.js';
import type { AccountForwarding } from '../../../cluster/forwarding.js';
import type { RemoteFeeds } from '../../../events/feed.js';
import { deleteAccountRoute } from './delete.js';
import { eventsRoute, type StreamBook } from './events.js';
import { messagesRoutes } from './messages.js';
import { webhookRoutes } from './webhook.js';
import { loginRoutes } from './login.js';
import { logoutRoute } from './logout.js';
import { meRoute } from './me.js';
import { qrRoutes } from './qr.js';
import { statusRoute } from './status.js';
import { tokenRoutes } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The account the route acts on; set before validation by the account scope. */
    account: Account | null;
  }
  interface FastifyContextConfig {
    /** This route only reads the account's status: without an owner it may be answered from the store. */
    statusRead?: boolean;
    /** A cluster: this route is served by whichever instance the request reaches, never forwarded (events, from the database). */
    anyInstance?: boolean;
  }
}

export interface AccountScopeOptions {
  registry: AccountRegistry;
  /**
   * The account a request means (throws ACCOUNT_NOT_FOUND for one the token may not reach); undefined in a
   * cluster when another instance holds it.
   */
  resolve: (request: FastifyRequest) => Account | undefined | Promise<Account | undefined>;
  /** The id of the account a request means (a cluster routes by it). */
  idOf: (request: FastifyRequest) => string;
  /** A cluster: requests for accounts held elsewhere are forwarded to their owner. */
  forwarding?: AccountForwarding;
  /** The by-id mount: adds GET / and DELETE / (the account itself) and the token routes. */
  byId: boolean;
  statusSchema: object;
  /** The OpenAPI tag of this mount's routes. */
  tag: string;
  /** SSE settings, the open streams (shared by both mounts), and (a cluster) the events of accounts held elsewhere. */
  events: { settings: EventsConfig; streams: StreamBook; remote?: RemoteFeeds };
}

/** The account of a request inside the account scope. */
export function accountOf(request: FastifyRequest): Account {
  if (!request.account) throw new Error('accountOf() outside the account scope');
  return request.account;
}

export async function accountRoutes(app: FastifyInstance, opts: AccountScopeOptions): Promise<void> {
  // Every route of the mount is documented under its tag, with the path parameters it takes.
  app.addHook('onRoute', (route) => {
    const params = pathParams(route.url);
    route.schema = { tags: [opts.tag], ...route.schema, ...(params ? { params } : {}) };
  });
  // Callback-style (every request runs it; the auth hook before it already waited a turn): an account
  // at hand is set at once, without a promise.
  app.addHook('onRequest', (request, _reply, done) => {
    let resolved: ReturnType<AccountScopeOptions['resolve']>;
    try {
      resolved = opts.resolve(request);
    } catch (err) {
      done(err as Error);
      return;
    }
    if (!(resolved instanceof Promise)) {
      request.account = resolved ?? null;
      done();
      return;
    }
    resolved.then((account) => {
      request.account = account ?? null;
      done();
    }, done);
  });
  const forwarding = opts.forwarding;
  if (forwarding) {
    // Held by another instance: forwarded once the body is parsed (the owner validates it).
    app.addHook('preValidation', async (request, reply) => {
      if (request.account) return;
      const id = opts.idOf(request);
      if (request.routeOptions.config?.anyInstance === true && opts.events.remote) {
        await forwarding.ensureAccount(id, !opts.byId);
        return; // request.account stays null: the route reads what the database has
      }
      const outcome = await forwarding.route(request, reply, id, {
        createIfMissing: !opts.byId,
        storedStatusOk: request.routeOptions.config?.statusRead === true,
      });
      if (outcome === 'answered') return reply;
      request.account = opts.registry.require(id); // taken by this instance meanwhile
    });
  }
  app.addHook('preHandler', (request, _reply, done) => {
    try {
      request.account?.touch(); // held here (a request served from the database touches nothing)
    } catch (err) {
      // Refreshing saved_at is best effort; it must never fail the request.
      request.log.warn({ err }, 'Could not record API activity');
    }
    done();
  });
  await app.register(statusRoute, { schema: opts.statusSchema, alsoAtRoot: opts.byId });
  await app.register(loginRoutes, { prefix: '/auth' });
  await app.register(qrRoutes, { prefix: '/auth' });
  await app.register(logoutRoute, { prefix: '/auth' });
  await app.register(meRoute);
  await app.register(messagesRoutes);
  await app.register(eventsRoute, { registry: opts.registry, ...opts.events, idOf: opts.idOf });
  await app.register(webhookRoutes, { registry: opts.registry });
  if (!opts.byId) return;
  await app.register(deleteAccountRoute, { registry: opts.registry });
  await app.register(tokenRoutes, { prefix: '/tokens', registry: opts.registry });
}

/** The JSON schema of a route's path parameters (:id, :tokenId), for validation and the OpenAPI document. */
function pathParams(url: string): object | undefined {
  const properties: Record<string, object> = {};
  if (url.includes(':id')) properties.id = { type: 'string', pattern: ACCOUNT_ID_PATTERN, description: 'The account id' };
  if (url.includes(':tokenId')) properties.tokenId = { type: 'string', pattern: '^[0-9a-f]{16}$', description: 'The token id' };
  const names = Object.keys(properties);
  return names.length ? { type: 'object', properties, required: names } : undefined;
}
