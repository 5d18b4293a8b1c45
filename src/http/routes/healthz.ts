import type { FastifyInstance } from 'fastify';

/** GET /healthz: the process is up and serving. No token, no account data. */
export async function healthzRoute(app: FastifyInstance): Promise<void> {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['service'],
        summary: 'The process is up and serving (no token)',
        security: [],
        response: { 200: { type: 'object', properties: { status: { type: 'string' } } } },
      },
    },
    async () => ({ status: 'ok' }),
  );
}
