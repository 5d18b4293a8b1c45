import type { FastifyInstance } from 'fastify';
import { apiResponses, LOGGED_OUT_SCHEMA } from '../../schemas.js';
import { accountOf } from './index.js';

/** POST /auth/logout: logs out at Telegram and removes the session files. Not rate-limited. */
export async function logoutRoute(app: FastifyInstance): Promise<void> {
  app.post('/logout', { schema: { summary: 'Log out at Telegram and remove the session (also cancels a login in progress)', response: apiResponses(LOGGED_OUT_SCHEMA) } }, async (request) => accountOf(request).logout());
}
