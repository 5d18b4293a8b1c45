/**
 * The account API: GET /dialogs, GET /messages (a chat's history), POST /messages (send, honouring an
 * Idempotency-Key header), POST /messages/read. Everything goes through the account's failure policy.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from '../../errors.js';
import {
  apiResponses,
  DIALOGS_QUERY,
  DIALOGS_SCHEMA,
  HISTORY_QUERY,
  HISTORY_SCHEMA,
  MESSAGE_SCHEMA,
  READ_BODY,
  READ_SCHEMA,
  SEND_MESSAGE_BODY,
} from '../../schemas.js';
import { accountOf } from './index.js';

const DEFAULT_PAGE = 50;
/** Printable ASCII, as the Idempotency-Key draft and common practice have it. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
export const REPLAYED_HEADER = 'idempotent-replayed';

function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? header[0] : header;
  if (Array.isArray(header) && header.length > 1) throw new HttpError(400, 'INVALID_IDEMPOTENCY_KEY', 'Send one Idempotency-Key header');
  if (key === undefined || !IDEMPOTENCY_KEY.test(key)) {
    throw new HttpError(400, 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 255 printable ASCII characters without spaces');
  }
  return key;
}

export async function messagesRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: { limit?: string; cursor?: string } }>(
    '/dialogs',
    { schema: { tags: ['messages'], summary: "The account's chats, newest first", querystring: DIALOGS_QUERY, response: apiResponses(DIALOGS_SCHEMA) } },
    async (request) => {
      const limit = request.query.limit === undefined ? DEFAULT_PAGE : Number(request.query.limit);
      return accountOf(request).messaging.dialogs(limit, request.query.cursor);
    },
  );

  app.get<{ Querystring: { peer: string; limit?: string; before?: string } }>(
    '/messages',
    { schema: { tags: ['messages'], summary: "A chat's history, newest first", querystring: HISTORY_QUERY, response: apiResponses(HISTORY_SCHEMA) } },
    async (request) => {
      const { peer, limit, before } = request.query;
      return accountOf(request).messaging.history(peer, limit === undefined ? DEFAULT_PAGE : Number(limit), before === undefined ? undefined : Number(before));
    },
  );

  app.post<{ Body: { peer: string | number; text: string; replyTo?: number } }>(
    '/messages',
    {
      schema: {
        tags: ['messages'],
        summary: 'Send a text message (an Idempotency-Key header makes retries safe)',
        body: SEND_MESSAGE_BODY,
        headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', description: 'Retries with the same key send at most once and answer the same message' } } },
        response: apiResponses(MESSAGE_SCHEMA),
      },
    },
    async (request, reply) => {
      const key = idempotencyKeyOf(request);
      const sent = await accountOf(request).messaging.send({ ...request.body, peer: String(request.body.peer) }, key);
      if (sent.replayed) reply.header(REPLAYED_HEADER, 'true');
      return sent.message;
    },
  );

  app.post<{ Body: { peer: string | number; maxId: number } }>(
    '/messages/read',
    { schema: { tags: ['messages'], summary: 'Mark a chat read up to maxId (0: all of it)', body: READ_BODY, response: apiResponses(READ_SCHEMA) } },
    async (request) => accountOf(request).messaging.read(String(request.body.peer), request.body.maxId),
  );
}
