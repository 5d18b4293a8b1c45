import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../../../account/types.js';
import { apiResponses, PUBLIC_USER_SCHEMA } from '../../schemas.js';

/** GET /me: the full self user, fresh from Telegram. */
export async function meRoute(app: FastifyInstance, { account }: { account: AccountService }): Promise<void> {
  app.get('/me', { schema: { response: apiResponses(PUBLIC_USER_SCHEMA) } }, async () => account.me());
}
