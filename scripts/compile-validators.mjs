// `npm run build`'s second step, after `tsc -b`: every route validator of the service generated as code
// (Fastify's standalone mode: @fastify/ajv-compiler/standalone) into dist/validators/<key>.cjs, listed in
// dist/validators/index.json. The service restores each one on its first call (src/generated-validators.ts)
// and never loads Ajv: compiling validators at run time held ~2.2 MiB of an idle service's memory.
//
// The app is built here as main.ts builds it (the real routes, schemas and Ajv options; a registry over a
// temporary directory, never asked anything), and every validator is compiled; one that does not compile
// fails the build.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StandaloneValidator } from '@fastify/ajv-compiler';
import pino from 'pino';
import { AccountRegistry } from '../dist/accounts/registry.js';
import { loadConsoleAssets } from '../dist/console/assets.js';
import { VALIDATORS_INDEX } from '../dist/generated-validators.js';
import { buildApp, LazySchemas } from '../dist/http/index.js';
import { createServiceMetrics } from '../dist/metrics/service-metrics.js';
import { loadConfig } from '../dist/config/load-config.js';
import { createFileAccountsStore } from '../dist/store/files/accounts-dir.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist', 'validators');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'compile-validators-'));

const codeOf = new Map(); // route → its validator's code, as the standalone factory hands it over
const files = new Map(); // key → code
const schemas = new LazySchemas({
  generate: StandaloneValidator({ readMode: false, storeFunction: (route, code) => codeOf.set(route, code) }),
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
  if (typeof code !== 'string') throw new Error(`compile-validators: no code was generated for validator ${key}`);
  fs.writeFileSync(path.join(outDir, `${key}.cjs`), code);
}
fs.writeFileSync(path.join(outDir, VALIDATORS_INDEX), JSON.stringify({ keys }, null, 2) + '\n');
