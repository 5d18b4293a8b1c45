/**
 * Route schemas compiled on first use (src/http/lazy-schemas.ts): a request validates and serializes as
 * Fastify's own compilers would, warmUp() compiles what no request used yet, and a schema that does not
 * compile is logged by the warm-up (and answered 500 by its route), never silently skipped. Validators
 * generated ahead (as `npm run build` does) are restored on their first call only, never warmed up, and
 * answer as compiled ones do; a route the generated set does not know is compiled here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StandaloneValidator } from '@fastify/ajv-compiler';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { generatedValidators, VALIDATORS_INDEX } from '../../src/generated-validators.js';
import { LazySchemas, type ValidatorSource } from '../../src/http/lazy-schemas.js';

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

  it('generated validators: written as the build writes them, restored on first call only, answering as compiled ones', async () => {
    const ECHO_BODY = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false };
    const ajv = { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } };
    const echo = async (request: FastifyRequest) => request.body;
    const routes = (app: FastifyInstance, withUnknown: boolean) => {
      app.post('/echo', { schema: { body: ECHO_BODY } }, echo);
      app.put('/echo', { schema: { body: ECHO_BODY } }, echo); // the same schema: one file
      if (withUnknown) app.post('/other', { schema: { body: { type: 'object', required: ['m'] } } }, async () => ({}));
    };

    // Build time: every validator compiled through Fastify's standalone factory, its code kept by key.
    const codeOf = new Map<object, string>();
    const files = new Map<string, string>();
    const writer = new LazySchemas({
      generate: StandaloneValidator({ readMode: false, storeFunction: (route: object, code: string) => void codeOf.set(route, code) }) as never,
      generated: (key, route) => void files.set(key, codeOf.get(route)!),
    });
    const built = Fastify({ ajv, schemaController: { compilersFactory: writer.compilersFactory } });
    routes(built as unknown as FastifyInstance, false);
    await built.ready();
    writer.compileAll();
    await built.close();
    expect(files.size).toBe(1);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'validators-'));
    try {
      for (const [key, code] of files) fs.writeFileSync(path.join(dir, `${key}.cjs`), code);
      fs.writeFileSync(path.join(dir, VALIDATORS_INDEX), JSON.stringify({ keys: [...files.keys()] }));

      // Run time: restored from the files, counted.
      const generated = generatedValidators(dir) as Extract<ValidatorSource, { restore: unknown }>;
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

      expect((await app.inject({ method: 'POST', url: '/echo', payload: { n: 3 } })).json()).toEqual({ n: 3 });
      const bad = await app.inject({ method: 'PUT', url: '/echo', payload: { n: 'three' } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().message).toMatch(/body\/n must be integer/);
      expect((await app.inject({ method: 'POST', url: '/echo', payload: { n: 1, extra: true } })).statusCode).toBe(400);
      expect(restored).toEqual([...files.keys(), ...files.keys()]); // once per route, on its first call
      expect((await app.inject({ method: 'POST', url: '/other', payload: {} })).statusCode).toBe(400);
      await app.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without the generated directory (the service run from src/), every validator is compiled here', () => {
    const none = generatedValidators(path.join(os.tmpdir(), 'no-such-validators-dir')) as Extract<ValidatorSource, { has: unknown }>;
    expect(none.has('0123456789abcdef01234567')).toBe(false);
  });
});
