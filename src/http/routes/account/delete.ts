import type { FastifyInstance } from 'fastify';
import type { AccountRegistry } from '../../../accounts/registry.js';
import { requireAdmin } from '../../plugins/auth.js';
import { apiResponses } from '../../schemas.js';
import { accountOf } from './index.js';

/** DELETE / (admin): logs the account out at Telegram when logged in, removes its files and tokens; 204. */
export async function deleteAccountRoute(app: FastifyInstance, { registry }: { registry: AccountRegistry }): Promise<void> {
  const schema = {
    tags: ['accounts'],
    summary: 'Delete the account: logged out at Telegram, its files and tokens removed (admin)',
    response: { 204: { type: 'null', description: 'Deleted' }, ...apiResponses({}) },
  };
  app.delete('', { schema }, async (request, reply) => {
    requireAdmin(request);
    await registry.delete(accountOf(request).id);
    return reply.code(204).send();
  });
}
