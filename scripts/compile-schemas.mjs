// `npm run build`'s second step, after `tsc -b`: every route validator and response serializer of the service
// generated as code (Fastify's standalone modes: @fastify/ajv-compiler and @fastify/fast-json-stringify-compiler)
// into dist/schemas/<key>.cjs, listed in dist/schemas/index.json. The service restores each one on its first
// call (src/generated-schemas.ts) and never loads Ajv nor fast-json-stringify's compiler: compiling at run time
// held ~2.5 MiB of an idle service's memory.
//
// The app is built here as main.ts builds it (the real routes, schemas, Ajv and serializer options; a registry
// over a temporary directory, never asked anything), and every schema is compiled; one that does not compile
// fails the build.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StandaloneValidator } from '@fastify/ajv-compiler';
import { StandaloneSerializer } from '@fastify/fast-json-stringify-compiler';
import pino from 'pino';
import { AccountRegistry } from '../dist/accounts/registry.js';
import { loadConsoleAssets } from '../dist/console/assets.js';
import { SCHEMAS_INDEX } from '../dist/generated-schemas.js';
import { buildApp, LazySchemas } from '../dist/http/index.js';
import { createServiceMetrics } from '../dist/metrics/service-metrics.js';
import { loadConfig } from '../dist/config/load-config.js';
import { createFileAccountsStore } from '../dist/store/files/accounts-dir.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist', 'schemas');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'compile-schemas-'));

const codeOf = new Map(); // route → its validator's or serializer's code, as the standalone factories hand it over
const files = new Map(); // key → code
const storeFunction = (route, code) => codeOf.set(route, code);
const schemas = new LazySchemas({
  generate: { validators: StandaloneValidator({ readMode: false, storeFunction }), serializers: StandaloneSerializer({ readMode: false, storeFunction }) },
  generated: (key, route) => files.set(key, codeOf.get(route)),
});

const logger = pino({ level: 'silent' });
// The defaults, as a start without settings reads them (a schema that depends on a setting someone changes
// is compiled at run time instead).
const config = {
  ...loadConfig({ DATA_DIR: dataDir }, dataDir),
  apiToken: 'build-time-token-never-used',
  apiTokenSource: 'env',
  sandbox: { port: 0 },
  logLevel: 'silent',
};
try {
  const registry = new AccountRegistry({ config, store: createFileAccountsStore({ dataDir, environment: 'sandbox', log: logger }), logger });
  const metrics = createServiceMetrics({ statuses: () => [], events: () => [] });
  const app = buildApp({ config, registry, logger, metrics, console: loadConsoleAssets(path.join(root, 'console')), schemas });
  await app.ready();
  schemas.compileAll();
  await app.close();
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}

fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });
const keys = [...files.keys()].sort();
for (const key of keys) {
  const code = files.get(key);
  if (typeof code !== 'string') throw new Error(`compile-schemas: no code was generated for ${key}`);
  fs.writeFileSync(path.join(outDir, `${key}.cjs`), code);
}
fs.writeFileSync(path.join(outDir, SCHEMAS_INDEX), JSON.stringify({ keys }, null, 2) + '\n');
