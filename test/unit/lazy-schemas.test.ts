/**
 * Route schemas compiled on first use (src/http/lazy-schemas.ts): a request validates and serializes as
 * Fastify's own compilers would, warmUp() compiles what no request used yet, and a schema that does not
 * compile is logged by the warm-up (and answered 500 by its route), never silently skipped.
 */
import Fastify from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { LazySchemas } from '../../src/http/lazy-schemas.js';

function logInto(lines: Array<Record<string, unknown>>) {
  return pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
}

describe('LazySchemas', () => {
  it('validates, reports errors and serializes like the default compilers; warmUp logs a schema that does not compile', async () => {
    const schemas = new LazySchemas();
    const app = Fastify({ schemaController: { compilersFactory: schemas.compilersFactory } });
    app.post('/echo', {
      schema: {
        body: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false },
        response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
      },
    }, async (request) => ({ ...(request.body as object), hidden: 'not in the schema' }));
    app.get('/broken', { schema: { querystring: { type: 'object', properties: { q: { type: 'no-such-type' } } } } }, async () => ({}));
    await app.ready(); // nothing compiled yet: a broken schema does not stop the start

    const ok = await app.inject({ method: 'POST', url: '/echo', payload: { n: 3 } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ n: 3 }); // the response schema's serializer drops what it does not describe
    const bad = await app.inject({ method: 'POST', url: '/echo', payload: { n: 'three' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/body\/n must be integer/);

    const lines: Array<Record<string, unknown>> = [];
    schemas.warmUp(logInto(lines));
    await expect.poll(() => lines.map((l) => l.msg), { timeout: 5_000 }).toContain('A route schema does not compile');
    expect(lines.find((l) => l.msg === 'A route schema does not compile')).toMatchObject({ method: 'GET', route: '/broken', part: 'querystring' });
    expect((await app.inject({ method: 'GET', url: '/broken' })).statusCode).toBe(500);
    await app.close();
  });
});
