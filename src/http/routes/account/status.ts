import type { FastifyInstance } from 'fastify';
import { apiResponses } from '../../schemas.js';
import { accountOf } from './index.js';

/** GET /status (and GET / on the by-id mount): the account's state, from memory (never waits for Telegram). */
export async function statusRoute(app: FastifyInstance, { schema, alsoAtRoot }: { schema: object; alsoAtRoot: boolean }): Promise<void> {
  const options = {
    schema: { summary: "The account's state, from memory (never waits for Telegram)", response: apiResponses(schema) },
    config: { statusRead: true },
  };
  app.get('/status', options, async (request) => accountOf(request).status());
  if (alsoAtRoot) app.get('', options, async (request) => accountOf(request).status());
}
