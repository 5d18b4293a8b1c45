/**
 * Route schemas compiled on first use (src/http/lazy-schemas.ts): a request validates and serializes as
 * Fastify's own compilers would, warmUp() compiles what no request used yet, and a schema that does not
 * compile is logged by the warm-up (and answered 500 by its route), never silently skipped. Validators and
 * serializers generated ahead (as `npm run build` does) are restored on their first call only, never warmed
 * up, and answer as compiled ones do; a route the generated set does not know is compiled here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StandaloneValidator } from '@fastify/ajv-compiler';
import { StandaloneSerializer } from '@fastify/fast-json-stringify-compiler';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { generatedSchemas, SCHEMAS_INDEX } from '../../src/generated-schemas.js';
import { LazySchemas } from '../../src/http/lazy-schemas.js';
import { REPO_ROOT } from '../helpers/service-process.js';

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

  it('generated validators and serializers: written as the build writes them, restored on first call only, answering as compiled ones', async () => {
    const ECHO_BODY = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false };
    const ECHO_RESPONSE = { 200: { type: 'object', properties: { n: { type: 'integer' } } } };
    const ajv = { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } };
    const echo = async (request: FastifyRequest) => ({ ...(request.body as object), hidden: 'not in the schema' });
    const routes = (app: FastifyInstance, withUnknown: boolean) => {
      // The same schemas on both routes: one validator file, one serializer file.
      app.post('/echo', { schema: { body: ECHO_BODY, response: ECHO_RESPONSE } }, echo);
      app.put('/echo', { schema: { body: ECHO_BODY, response: ECHO_RESPONSE } }, echo);
      if (withUnknown) app.post('/other', { schema: { body: { type: 'object', required: ['m'] } } }, async () => ({}));
    };

    // Build time: every validator and serializer compiled through Fastify's standalone factories, its code kept by key.
    const codeOf = new Map<object, string>();
    const files = new Map<string, string>();
    const storeFunction = (route: object, code: string) => void codeOf.set(route, code);
    const writer = new LazySchemas({
      generate: { validators: StandaloneValidator({ readMode: false, storeFunction }) as never, serializers: StandaloneSerializer({ readMode: false, storeFunction }) as never },
      generated: (key, route) => void files.set(key, codeOf.get(route)!),
    });
    const built = Fastify({ ajv, schemaController: { compilersFactory: writer.compilersFactory } });
    routes(built as unknown as FastifyInstance, false);
    await built.ready();
    writer.compileAll();
    await built.close();
    expect(files.size).toBe(2);
    // In the repository, as dist/schemas/ is: a serializer's code requires fast-json-stringify from node_modules.
    fs.mkdirSync(path.join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    const dir = fs.mkdtempSync(path.join(REPO_ROOT, 'test-artifacts', 'schemas-'));
    try {
      for (const [key, code] of files) fs.writeFileSync(path.join(dir, `${key}.cjs`), code);
      fs.writeFileSync(path.join(dir, SCHEMAS_INDEX), JSON.stringify({ keys: [...files.keys()] }));

      // Run time: restored from the files, counted.
      const generated = generatedSchemas(dir);
      const restored: string[] = [];
      const schemas = new LazySchemas({ has: generated.has, restore: (key) => (restored.push(key), generated.restore(key)) });
      const app = Fastify({ ajv, schemaController: { compilersFactory: schemas.compilersFactory } });
      routes(app as unknown as FastifyInstance, true);
      await app.ready();
      // Only the route the generated set does not know is left to compile here (and to the warm-up).
      expect(schemas.pendingRoutes().map((r) => `${r.method} ${r.url} ${r.httpPart}`)).toEqual(['POST /other body']);
      schemas.warmUp(logInto([]));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(restored).toEqual([]); // the warm-up loads nothing ready-made

      expect((await app.inject({ method: 'POST', url: '/echo', payload: { n: 3 } })).json()).toEqual({ n: 3 }); // `hidden` not written
      const bad = await app.inject({ method: 'PUT', url: '/echo', payload: { n: 'three' } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().message).toMatch(/body\/n must be integer/);
      expect((await app.inject({ method: 'PUT', url: '/echo', payload: { n: 4 } })).json()).toEqual({ n: 4 });
      expect((await app.inject({ method: 'POST', url: '/echo', payload: { n: 1, extra: true } })).statusCode).toBe(400);
      // Each validator once per route, on its first call; the serializer once (the routes share its schema object).
      const [validatorKey, serializerKey] = [...files.keys()].sort((a, b) => restored.indexOf(a) - restored.indexOf(b));
      expect(restored.sort()).toEqual([validatorKey, validatorKey, serializerKey].sort());
      expect((await app.inject({ method: 'POST', url: '/other', payload: {} })).statusCode).toBe(400);
      await app.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without the generated directory (the service run from src/), every schema is compiled here', () => {
    const none = generatedSchemas(path.join(os.tmpdir(), 'no-such-schemas-dir'));
    expect(none.has('0123456789abcdef01234567')).toBe(false);
  });
});
