import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../../../account/types.js';
import { apiResponses, LOGGED_OUT_SCHEMA } from '../../schemas.js';

/** POST /auth/logout: logs out at Telegram and removes the session files. Not rate-limited. */
export async function logoutRoute(app: FastifyInstance, { account }: { account: AccountService }): Promise<void> {
  app.post('/logout', { schema: { response: apiResponses(LOGGED_OUT_SCHEMA) } }, async () => account.logout());
}
