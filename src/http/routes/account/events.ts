/**
 * GET /events: the account's journal, as Server-Sent Events (the default, `Accept: text/event-stream`) or as
 * JSON pages (`Accept: application/json`). Both resume after an id: `Last-Event-ID` (what EventSource sends
 * when it reconnects; it wins) or `?after=`. Streams are bounded per account (SSE_MAX_STREAMS, per instance)
 * and all end when the service stops. In a cluster every instance serves it itself: from the account's own
 * pipeline where it is held, else from what the database has committed (never forwarded to the owner).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccountRegistry } from '../../../accounts/registry.js';
import type { EventsConfig } from '../../../config/types.js';
import type { EventFeed, HeldFeed, RemoteFeeds } from '../../../events/feed.js';
import { streamEvents } from '../../../events/sse.js';
import { HttpError } from '../../errors.js';
import { apiResponses, EVENTS_PAGE_SCHEMA, EVENTS_QUERY } from '../../schemas.js';
import { accountOf } from './index.js';
import { LOG_MESSAGES } from '../../../logging/messages.js';

const EVENT_ID = /^[0-9]{1,16}$/;
const DEFAULT_PAGE = 100;
const MAX_WAIT_S = 60;

export interface EventsRouteOptions {
  registry: AccountRegistry;
  settings: Pick<EventsConfig, 'sseHeartbeatMs' | 'sseSlowClientTimeoutMs' | 'sseMaxStreams'>;
  /** Open streams per account, shared by both mounts (/accounts/:id and /telegram). */
  streams: StreamBook;
  /** The id of the account a request means. */
  idOf: (request: FastifyRequest) => string;
  /** A cluster: the committed events of accounts held by other instances. */
  remote?: RemoteFeeds;
}

/** Open SSE streams: counted per account, all ended when the service stops. */
export class StreamBook {
  private readonly open = new Map<string, number>();
  readonly stopping = new AbortController();

  enter(accountId: string, max: number): boolean {
    const count = this.open.get(accountId) ?? 0;
    if (count >= max) return false;
    this.open.set(accountId, count + 1);
    return true;
  }

  leave(accountId: string): void {
    const count = (this.open.get(accountId) ?? 1) - 1;
    if (count <= 0) this.open.delete(accountId);
    else this.open.set(accountId, count);
  }
}

/** The id to resume after: Last-Event-ID, else ?after=, else 0 (from the oldest retained event). */
function resumeAfter(request: FastifyRequest<{ Querystring: { after?: string } }>, events: EventFeed): number {
  const header = request.headers['last-event-id'];
  let text: string | undefined = request.query.after;
  if (header !== undefined) {
    const value = Array.isArray(header) ? header.join(',') : header;
    if (!EVENT_ID.test(value)) throw new HttpError(400, 'INVALID_EVENT_ID', 'Last-Event-ID must be an event id (a whole number of at most 16 digits)');
    text = value;
  }
  const after = text === undefined ? 0 : Number(text);
  const { lastId } = events.bounds();
  if (after > lastId) {
    throw new HttpError(409, 'EVENT_ID_AHEAD', `There is no event ${after} yet (the newest is ${lastId}): this journal is not the one that id came from; resume from 0`);
  }
  return after;
}

export function eventsOfRequest(registry: AccountRegistry, request: FastifyRequest): ReturnType<AccountRegistry['eventsOf']> & object {
  const parts = registry.eventsOf(accountOf(request).id);
  if (!parts) throw eventsUnavailable();
  return parts;
}

function eventsUnavailable(): HttpError {
  return new HttpError(503, 'EVENTS_UNAVAILABLE', "This account's event journal cannot be read right now (see the service log)");
}

/** The account's events: its own pipeline when it is held here, else (a cluster) what the database has. */
async function feedOf(request: FastifyRequest, opts: EventsRouteOptions): Promise<HeldFeed> {
  if (request.account || !opts.remote) return { feed: eventsOfRequest(opts.registry, request).events, release: () => undefined };
  try {
    return await opts.remote.open(opts.idOf(request));
  } catch (err) {
    request.log.warn({ err }, 'Events of an account held elsewhere cannot be read from the database');
    throw eventsUnavailable();
  }
}

export async function eventsRoute(app: FastifyInstance, opts: EventsRouteOptions): Promise<void> {
  app.get<{ Querystring: { after?: string; limit?: string; wait?: string } }>(
    '/events',
    {
      config: { anyInstance: true },
      schema: {
        tags: ['events'],
        summary: 'The account\'s events: Server-Sent Events, or JSON pages with "Accept: application/json"',
        querystring: EVENTS_QUERY,
        headers: { type: 'object', properties: { 'last-event-id': { type: 'string', description: 'Resume after this event id' } } },
        response: apiResponses(EVENTS_PAGE_SCHEMA),
      },
    },
    async (request, reply) => {
      if (!wantsJson(request) && (request.query.limit !== undefined || request.query.wait !== undefined)) {
        throw new HttpError(400, 'BAD_REQUEST', 'limit and wait are for JSON pages (Accept: application/json)');
      }
      const { feed, release } = await feedOf(request, opts);
      try {
        const after = resumeAfter(request, feed);
        return await (wantsJson(request) ? page(feed, after, request.query) : stream(request, reply, feed, after, opts));
      } finally {
        release();
      }
    },
  );
}

function wantsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/event-stream');
}

async function page(events: EventFeed, after: number, query: { limit?: string; wait?: string }): Promise<object> {
  const limit = Math.min(1000, Math.max(1, query.limit === undefined ? DEFAULT_PAGE : Number(query.limit)));
  const waitMs = Math.min(MAX_WAIT_S, Number(query.wait ?? 0)) * 1000;
  let batch = await events.read(after, limit);
  if (batch.length === 0 && waitMs > 0 && !events.isClosed) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, waitMs);
      const unsubscribe = events.subscribe(done);
      function done(): void {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    });
    batch = await events.read(after, limit);
  }
  const { firstId, lastId } = events.bounds();
  return {
    events: batch.map((event) => events.toWire(event)),
    firstId,
    lastId,
    nextAfter: batch.at(-1)?.id ?? Math.max(after, firstId - 1),
    expired: after < firstId - 1,
  };
}

async function stream(request: FastifyRequest, reply: FastifyReply, events: EventFeed, after: number, opts: EventsRouteOptions): Promise<FastifyReply> {
  const accountId = events.accountId;
  if (!opts.streams.enter(accountId, opts.settings.sseMaxStreams)) {
    throw new HttpError(429, 'TOO_MANY_STREAMS', `This account has ${opts.settings.sseMaxStreams} event streams open already (SSE_MAX_STREAMS)`);
  }
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-accel-buffering': 'no', // tell a proxy in front not to buffer the stream
    connection: 'keep-alive',
  });
  const { firstId } = events.bounds();
  if (after < firstId - 1) {
    // The client missed events that retention removed: said once, then the stream goes on from the oldest kept.
    res.write(`event: events.expired\ndata: ${JSON.stringify({ after, firstId })}\n\n`);
  }
  request.socket.setNoDelay(true);
  try {
    const end = await streamEvents(res, events, {
      after,
      heartbeatMs: opts.settings.sseHeartbeatMs,
      drainTimeoutMs: opts.settings.sseSlowClientTimeoutMs,
      signal: opts.streams.stopping.signal,
    });
    if (end === 'too-slow') request.log.info({ account: accountId }, LOG_MESSAGES.streamCutOff);
  } catch (err) {
    request.log.warn({ err, account: accountId }, 'Event stream ended by an error');
    if (!res.destroyed) res.destroy();
  } finally {
    opts.streams.leave(accountId);
  }
  return reply;
}
