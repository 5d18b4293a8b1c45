/**
 * The OpenAPI document is generated from the routes themselves: it validates against the OpenAPI 3.1
 * schema, every registered route is in it with its method, the bearer scheme guards every /api route,
 * and the error shape is described. Built on the real app with a real registry over a temp directory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountRegistry } from '../../src/accounts/registry.js';
import { buildApp } from '../../src/http/app.js';
import { createFileAccountsStore } from '../../src/store/files/accounts-dir.js';
import { testConfig } from './account.harness.js';
import { fileURLToPath } from 'node:url';
import { loadConsoleAssets } from '../../src/console/assets.js';

const HIDDEN = new Set(['/openapi.json']);

let dir: string;
let app: ReturnType<typeof buildApp>;
const routes: Array<{ method: string; url: string }> = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openapi-'));
  const logger = pino({ level: 'silent' });
  const config = testConfig(dir);
  const registry = new AccountRegistry({ config, store: createFileAccountsStore({ dataDir: dir, environment: 'sandbox', log: logger }), logger });
  await registry.start();
  app = buildApp({ config, registry, logger, version: '1.2.3', console: loadConsoleAssets(fileURLToPath(new URL('../../console/', import.meta.url))) });
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('OpenAPI 3.1 document', () => {
  it('validates against the OpenAPI 3.1 schema', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe('1.2.3');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('holds every registered route with its method; /api routes need the bearer token, /healthz does not', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    const documented = routes.filter((r) => !HIDDEN.has(r.url) && !r.url.startsWith('/docs') && r.method !== 'HEAD');
    expect(documented.length).toBeGreaterThan(20);
    for (const { method, url } of documented) {
      const openApiPath = url.replace(/:(\w+)/g, '{$1}');
      const operation = doc.paths[openApiPath]?.[method.toLowerCase()];
      expect(operation, `${method} ${url}`).toBeDefined();
      expect(operation.summary, `${method} ${url} has a summary`).toEqual(expect.any(String));
      if (url.startsWith('/api/')) {
        expect(operation.security, `${method} ${url}`).toBeUndefined(); // the document's default: bearer
        expect(Object.keys(operation.responses), `${method} ${url} describes its errors`).toEqual(expect.arrayContaining(['4XX', '5XX']));
        const error = operation.responses['4XX'].content['application/json'].schema;
        expect(error.properties.error.required).toEqual(['code', 'message']);
      }
      for (const name of url.match(/:(\w+)/g) ?? []) {
        const param = operation.parameters.find((p: { name: string; in: string }) => p.name === name.slice(1) && p.in === 'path');
        expect(param, `${method} ${url} documents ${name}`).toBeDefined();
      }
    }
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });

  it('Swagger UI is served from this process (no CDN), with a Content-Security-Policy', async () => {
    const page = await app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toBeDefined();
    for (const src of page.body.matchAll(/(?:src|href)="([^"]+)"/g)) expect(src[1], 'a local asset').not.toMatch(/^(https?:)?\/\//);
    const asset = page.body.match(/src="([^"]+\.js)"/)?.[1];
    expect(asset).toBeDefined();
    const js = await app.inject({ method: 'GET', url: new URL(asset!, 'http://x/docs/').pathname });
    expect(js.statusCode).toBe(200);
  });
});
