/** /tokens: an account's scoped tokens (admin only): issue one (shown once), list them, revoke one. */
import type { FastifyInstance } from 'fastify';
import type { AccountRegistry } from '../../../accounts/registry.js';
import { requireAdmin } from '../../plugins/auth.js';
import { apiResponses, ISSUE_TOKEN_BODY, ISSUED_TOKEN_SCHEMA, TOKEN_LIST_SCHEMA } from '../../schemas.js';
import { accountOf } from './index.js';

export async function tokenRoutes(app: FastifyInstance, { registry }: { registry: AccountRegistry }): Promise<void> {
  app.addHook('onRequest', async (request) => requireAdmin(request));

  app.post<{ Body: { label?: string } | null }>(
    '',
    { schema: { tags: ['tokens'], summary: 'Issue a token scoped to this account (shown once)', body: ISSUE_TOKEN_BODY, response: apiResponses(ISSUED_TOKEN_SCHEMA, 201) } },
    async (request, reply) => {
      const issued = await registry.issueToken(accountOf(request).id, request.body?.label);
      return reply.code(201).send(issued);
    },
  );

  app.get('', { schema: { tags: ['tokens'], summary: "The account's scoped tokens (no secrets)", response: apiResponses(TOKEN_LIST_SCHEMA) } }, async (request) => ({
    tokens: registry.listTokens(accountOf(request).id),
  }));

  app.delete<{ Params: { tokenId: string } }>(
    '/:tokenId',
    { schema: { tags: ['tokens'], summary: 'Revoke a scoped token at once', response: { 204: { type: 'null', description: 'Revoked' }, ...apiResponses({}) } } },
    async (request, reply) => {
      await registry.revokeToken(accountOf(request).id, request.params.tokenId);
      return reply.code(204).send();
    },
  );
}
