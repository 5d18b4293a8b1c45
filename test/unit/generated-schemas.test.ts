/**
 * The validators and serializers `npm run build` generates (scripts/compile-schemas.mjs → dist/schemas/) cover
 * the service's app as main.ts builds it with default settings: no route's schema is left to compile at run
 * time (so neither Ajv nor fast-json-stringify's compiler is loaded), the restored validators answer bad input
 * as the API documents, and the restored serializers write what the schemas describe.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountRegistry } from '../../src/accounts/registry.js';
import { loadConfig } from '../../src/config/load-config.js';
import { loadConsoleAssets } from '../../src/console/assets.js';
import { buildApp } from '../../src/http/app.js';
import { generatedSchemas, SCHEMAS_INDEX } from '../../src/generated-schemas.js';
import { LazySchemas } from '../../src/http/lazy-schemas.js';
import { createServiceMetrics } from '../../src/metrics/service-metrics.js';
import type { Config } from '../../src/config/types.js';
import { createFileAccountsStore } from '../../src/store/files/accounts-dir.js';
import { REPO_ROOT } from '../helpers/service-process.js';

const GENERATED = path.join(REPO_ROOT, 'dist', 'schemas');
const TOKEN = 'generated-schemas-test-token';

let dir: string;
let app: ReturnType<typeof buildApp>;
let schemas: LazySchemas;
let registry: AccountRegistry;
const restored: string[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'generated-schemas-'));
  const logger = pino({ level: 'silent' });
  const config: Config = { ...loadConfig({ DATA_DIR: dir }, dir), apiToken: TOKEN, apiTokenSource: 'env', sandbox: { port: 0 } };
  registry = new AccountRegistry({ config, store: createFileAccountsStore({ dataDir: dir, environment: 'sandbox', log: logger }), logger });
  await registry.start();
  const generated = generatedSchemas(GENERATED);
  schemas = new LazySchemas({ has: generated.has, restore: (key) => (restored.push(key), generated.restore(key)) });
  const metrics = createServiceMetrics({ statuses: () => [], events: () => [] });
  app = buildApp({ config, registry, logger, metrics, schemas, console: loadConsoleAssets(fileURLToPath(new URL('../../console/', import.meta.url))) });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await registry?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('generated route validators and serializers', () => {
  it('the build wrote them (npm test builds first)', () => {
    const index = JSON.parse(fs.readFileSync(path.join(GENERATED, SCHEMAS_INDEX), 'utf8')) as { keys: string[] };
    expect(index.keys.length).toBeGreaterThan(5);
    for (const key of index.keys) expect(fs.existsSync(path.join(GENERATED, `${key}.cjs`)), key).toBe(true);
  });

  it('cover every route of the app: no validator nor serializer is left to compile at run time', () => {
    expect(schemas.pendingRoutes().map((r) => `${r.method} ${r.url} ${r.httpPart ?? r.httpStatus}`)).toEqual([]);
  });

  it('serialize responses as the schemas describe, each restored from its file on first use', async () => {
    const before = restored.length;
    const status = await app.inject({ method: 'GET', url: '/api/telegram/status', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(status.statusCode).toBe(200);
    expect(status.json()).toMatchObject({ state: 'logged_out', authenticated: false, session: expect.any(Object) });
    const notFound = await app.inject({ method: 'GET', url: '/api/accounts/nobody', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(notFound.statusCode).toBe(404);
    expect(notFound.json()).toEqual({ error: { code: 'ACCOUNT_NOT_FOUND', message: expect.any(String) } });
    expect(restored.length).toBeGreaterThan(before);
  });

  it('answer bad input in the API\'s words', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const badId = await app.inject({ method: 'POST', url: '/api/accounts', headers: auth, payload: { id: 'not an id!' } });
    expect(badId.statusCode).toBe(400);
    expect(badId.json().error.code).toBe('VALIDATION_FAILED');
    const noPhone = await app.inject({ method: 'POST', url: '/api/telegram/auth/send-code', headers: auth, payload: {} });
    expect(noPhone.statusCode).toBe(400);
    expect(noPhone.json().error.message).toMatch(/phone/);
    const badLimit = await app.inject({ method: 'GET', url: '/api/accounts?limit=zero', headers: auth });
    expect(badLimit.statusCode).toBe(400);
    const created = await app.inject({ method: 'POST', url: '/api/accounts', headers: auth, payload: { id: 'fine-id' } });
    expect(created.statusCode).toBe(201);
  });
});
