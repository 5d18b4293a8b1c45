import type { FastifyInstance } from 'fastify';
import { apiResponses, PUBLIC_USER_SCHEMA } from '../../schemas.js';
import { accountOf } from './index.js';

/** GET /me: the full self user, fresh from Telegram. */
export async function meRoute(app: FastifyInstance): Promise<void> {
  app.get('/me', { schema: { summary: "The account's user, fresh from Telegram", response: apiResponses(PUBLIC_USER_SCHEMA) } }, async (request) => accountOf(request).me());
}
