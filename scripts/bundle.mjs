// `npm run build`'s second step, after `tsc -b` (which type-checks everything, builds the workspace
// packages and writes each module of the service to dist/, where tests that run one module in a child
// process find it): the service as one bundled ES module written over tsc's dist/main.js — what
// `npm start` and the end-to-end tests run.
//
// Why a bundle: unbundled, a start spent most of its time resolving and loading ~920 ES modules. Bundled,
// the start-up path is one file, and what it does not need is split into chunks loaded on first use
// (dist/chunks/): mtcute (telegram/load.ts) and the in-process sandbox DC (main.ts). Tree-shaking drops
// what the service never uses (mtcute's HTML/Markdown parsers, its SQLite storage but for one import, below).
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist');

// better-sqlite3 (a native module) sits behind mtcute's SQLite storage, which the service never uses; but
// @mtcute/node's client names that storage as its default, so esbuild kept the import, and loading mtcute
// loaded the package too (~15 ms, on the way to the first validation). It resolves to a module refusing use.
const noSqlite = {
  name: 'no-better-sqlite3',
  setup(build) {
    build.onResolve({ filter: /^better-sqlite3$/ }, () => ({ path: 'better-sqlite3', namespace: 'no-sqlite' }));
    build.onLoad({ filter: /.*/, namespace: 'no-sqlite' }, () => ({
      contents: "export default function Database() { throw new Error('better-sqlite3 is not bundled: the service never uses mtcute\\'s SQLite storage'); }",
    }));
  },
};

// Modules the service seldom or never calls, which would otherwise be evaluated at every start: Fastify's
// compilers with Ajv and fast-json-stringify behind them (the route schemas come ready-made from the build:
// scripts/compile-schemas.mjs), OpenTelemetry behind prom-client's exemplars. Where these importers require
// them, the bundle holds a stand-in (scripts/deferred/) that requires the real module from node_modules on first use.
const deferredDir = path.join(root, 'scripts', 'deferred');
const deferredModules = [
  { importer: 'node_modules/fastify/lib/schema-controller.js', specifier: '@fastify/ajv-compiler', standIn: 'ajv-compiler.cjs' },
  { importer: 'src/http/lazy-schemas.ts', specifier: '@fastify/ajv-compiler', standIn: 'ajv-compiler.cjs' },
  { importer: 'node_modules/fastify/lib/schema-controller.js', specifier: '@fastify/fast-json-stringify-compiler', standIn: 'fast-json-stringify-compiler.cjs' },
  { importer: 'src/http/lazy-schemas.ts', specifier: '@fastify/fast-json-stringify-compiler', standIn: 'fast-json-stringify-compiler.cjs' },
  { importer: 'node_modules/prom-client/lib/metrics/processCpuTotal.js', specifier: '@opentelemetry/api', standIn: 'opentelemetry-api.cjs' },
  { importer: 'node_modules/@fastify/rate-limit/index.js', specifier: 'ip-address', standIn: 'ip-address.cjs' },
  { importer: 'node_modules/fastify/lib/request.js', specifier: '@fastify/proxy-addr', standIn: 'proxy-addr.cjs' },
  { importer: 'node_modules/prom-client/lib/timeWindowQuantiles.js', specifier: 'tdigest', standIn: 'tdigest.cjs' },
];
const deferred = {
  name: 'deferred-modules',
  setup(build) {
    build.onResolve({ filter: /.*/ }, ({ path: specifier, importer }) => {
      // A stand-in's own require of the real module stays a require at run time.
      if (importer.startsWith(deferredDir + path.sep) && !specifier.startsWith('.')) return { path: specifier, external: true };
      const from = path.relative(root, importer).split(path.sep).join('/');
      const entry = deferredModules.find((d) => d.importer === from && d.specifier === specifier);
      return entry ? { path: path.join(deferredDir, entry.standIn) } : undefined;
    });
  },
};

// No stale chunk survives a rebuild.
rmSync(path.join(outdir, 'chunks'), { recursive: true, force: true });

const { metafile } = await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/main.ts' },
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The workspace packages from their TypeScript sources, as the tests run them.
  conditions: ['source'],
  // pino-pretty: an optional devDependency, required at run time only on a terminal (logging/logger.ts).
  // @fastify/swagger and @fastify/swagger-ui read files beside their own code (package.json, Swagger UI's
  // assets under __dirname): loaded from node_modules, where those files are (on first use: http/plugins/openapi.ts).
  // light-my-request: Fastify requires it only inside inject(), which the service never calls (~50 KB of text less).
  external: ['pino-pretty', '@fastify/swagger', '@fastify/swagger-ui', 'light-my-request'],
  plugins: [noSqlite, deferred],
  // Some bundled CommonJS dependencies call require() (for Node's own modules): give the ES module one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  sourcemap: 'linked',
  // V8 keeps every loaded script's source in memory (8 MiB of an idle service's heap was bundle text) and
  // parses all of it at start: minified, local and top-level names too (the text an idle service holds:
  // 2.5 → 1.9 MiB; malloc's heap after the start-up parse ~5.5 → ~3 MiB; the idle RSS this buys is in the
  // README's benchmark section). Property names are kept, so a stack trace still
  // says which method (`at Xe.verifyCode`); `node --enable-source-maps dist/main.js` maps it back to src/
  // through the linked maps. Logged errors are typed by their `name`, not their class (logging/logger.ts).
  minify: true,
  logLevel: 'warning',
  metafile: true,
});
// Which sources went into which file, and what each file imports (test/unit/startup-bundle.test.ts reads it).
writeFileSync(path.join(outdir, 'bundle-meta.json'), JSON.stringify(metafile));
