/**
 * PUT/GET/DELETE /webhook: the account's webhook. The admin token may point it anywhere; a token scoped to
 * the account only at public addresses or WEBHOOK_ALLOWED_HOSTS (events/webhook-target.ts). GET never shows
 * the secret.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountRegistry } from '../../../accounts/registry.js';
import { WebhookTargetError } from '../../../events/webhook-target.js';
import { HttpError } from '../../errors.js';
import { apiResponses, WEBHOOK_BODY, WEBHOOK_SCHEMA } from '../../schemas.js';
import { eventsOfRequest } from './events.js';

export async function webhookRoutes(app: FastifyInstance, { registry }: { registry: AccountRegistry }): Promise<void> {
  app.put<{ Body: { url: string; secret: string; after?: number } }>(
    '/webhook',
    { schema: { tags: ['webhook'], summary: 'Set the webhook every event is POSTed to (signed with the secret)', body: WEBHOOK_BODY, response: apiResponses(WEBHOOK_SCHEMA) } },
    async (request) => {
      const { webhook } = eventsOfRequest(registry, request);
      const setBy = request.principal?.kind === 'admin' ? 'admin' : 'account';
      try {
        return await webhook.set(request.body, setBy);
      } catch (err) {
        if (err instanceof WebhookTargetError) throw new HttpError(err.code === 'WEBHOOK_URL_FORBIDDEN' ? 403 : 400, err.code, err.message);
        throw notStored(request, err);
      }
    },
  );

  app.get('/webhook', { schema: { tags: ['webhook'], summary: 'The webhook and its delivery state (never the secret)', response: apiResponses(WEBHOOK_SCHEMA) } }, async (request) => {
    const view = eventsOfRequest(registry, request).webhook.view();
    if (!view) throw new HttpError(404, 'WEBHOOK_NOT_SET', 'This account has no webhook');
    return view;
  });

  app.delete('/webhook', { schema: { tags: ['webhook'], summary: 'Remove the webhook', response: { 204: { type: 'null', description: 'Removed' }, ...apiResponses({}) } } }, async (request, reply) => {
    const removed = await eventsOfRequest(registry, request)
      .webhook.remove()
      .catch((err: unknown) => {
        throw notStored(request, err);
      });
    if (!removed) throw new HttpError(404, 'WEBHOOK_NOT_SET', 'This account has no webhook');
    return reply.code(204).send();
  });
}

/** The store refused the change (a full disk, the database away, the account's lease lost): nothing changed. */
function notStored(request: FastifyRequest, err: unknown): HttpError {
  request.log.error({ err }, 'The webhook could not be stored');
  return new HttpError(503, 'STORAGE_UNAVAILABLE', 'The webhook cannot be stored right now; nothing was changed, retry shortly');
}
