import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../../../account/types.js';
import { apiResponses, STATUS_SCHEMA } from '../../schemas.js';

/** GET /status: the account's state, from memory (never waits for Telegram). */
export async function statusRoute(app: FastifyInstance, { account }: { account: AccountService }): Promise<void> {
  app.get('/status', { schema: { response: apiResponses(STATUS_SCHEMA) } }, async () => account.status());
}
