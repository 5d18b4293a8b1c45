/**
 * The validators `npm run build` generates (scripts/compile-validators.mjs → dist/validators/) cover the
 * service's app as main.ts builds it with default settings: no route's validator is left to compile at run
 * time (so Ajv is never loaded), and the restored validators answer bad input as the API documents.
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
import { generatedValidators, VALIDATORS_INDEX } from '../../src/generated-validators.js';
import { LazySchemas } from '../../src/http/lazy-schemas.js';
import { createServiceMetrics } from '../../src/metrics/service-metrics.js';
import type { Config } from '../../src/config/types.js';
import { createFileAccountsStore } from '../../src/store/files/accounts-dir.js';
import { REPO_ROOT } from '../helpers/service-process.js';

const GENERATED = path.join(REPO_ROOT, 'dist', 'validators');
const TOKEN = 'generated-validators-test-token';

let dir: string;
let app: ReturnType<typeof buildApp>;
let schemas: LazySchemas;
let registry: AccountRegistry;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'generated-validators-'));
  const logger = pino({ level: 'silent' });
  const config: Config = { ...loadConfig({ DATA_DIR: dir }, dir), apiToken: TOKEN, apiTokenSource: 'env', sandbox: { port: 0 } };
  registry = new AccountRegistry({ config, store: createFileAccountsStore({ dataDir: dir, environment: 'sandbox', log: logger }), logger });
  await registry.start();
  schemas = new LazySchemas(generatedValidators(GENERATED));
  const metrics = createServiceMetrics({ statuses: () => [], events: () => [] });
  app = buildApp({ config, registry, logger, metrics, schemas, console: loadConsoleAssets(fileURLToPath(new URL('../../console/', import.meta.url))) });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await registry?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('generated route validators', () => {
  it('the build wrote them (npm test builds first)', () => {
    const index = JSON.parse(fs.readFileSync(path.join(GENERATED, VALIDATORS_INDEX), 'utf8')) as { keys: string[] };
    expect(index.keys.length).toBeGreaterThan(5);
    for (const key of index.keys) expect(fs.existsSync(path.join(GENERATED, `${key}.cjs`)), key).toBe(true);
  });

  it('cover every route of the app: no validator is left to compile at run time', () => {
    const validatorsLeft = schemas.pendingRoutes().filter((route) => route.httpPart !== undefined);
    expect(validatorsLeft.map((r) => `${r.method} ${r.url} ${r.httpPart}`)).toEqual([]);
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
