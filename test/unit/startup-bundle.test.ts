/**
 * What a start loads before its first answer: the bundle's dist/main.js (scripts/bundle.mjs; `npm test`
 * builds it first) and the chunks it imports statically, followed transitively — read from the build's
 * metafile (dist/bundle-meta.json: which sources went into each file, and what each file imports). mtcute
 * is not among them: it is loaded on first use (src/telegram/load.ts), and a single value import of it from
 * a module on the start-up path — even a one-line helper through its utils barrel — puts mtcute's core
 * (1.1 MB) there. Nor does loading mtcute load better-sqlite3, behind the SQLite storage the service never uses.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Metafile {
  outputs: Record<string, { entryPoint?: string; inputs: Record<string, unknown>; imports: Array<{ path: string; kind: string; external?: boolean }> }>;
}
const meta = JSON.parse(readFileSync(path.join(ROOT, 'dist', 'bundle-meta.json'), 'utf8')) as Metafile;

/** `entry` and every file it imports statically, transitively (dynamic import() is not followed). */
function staticClosure(entry: string): string[] {
  const seen = new Set<string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const imported of meta.outputs[file]!.imports) if (!imported.external && imported.kind === 'import-statement') pending.push(imported.path);
  }
  return [...seen];
}

const holdsMtcute = (file: string) => Object.keys(meta.outputs[file]!.inputs).some((input) => input.startsWith('node_modules/@mtcute/'));

describe('the start-up bundle', () => {
  it('holds no mtcute: dist/main.js and the chunks it imports statically', () => {
    const startup = staticClosure('dist/main.js');
    expect(startup.length).toBeGreaterThan(1); // the chunks were found: the check below is not vacuous
    expect(startup.filter(holdsMtcute)).toEqual([]);
    // …while the chunk loaded on first use has it.
    const runtime = Object.entries(meta.outputs).find(([, output]) => output.entryPoint === 'src/telegram/runtime.ts')?.[0];
    expect(runtime).toBeDefined();
    expect(meta.outputs['dist/main.js']!.imports).toContainEqual({ path: runtime, kind: 'dynamic-import' });
    const lazy = staticClosure(runtime!);
    expect(lazy.some(holdsMtcute)).toBe(true);
    // mtcute's SQLite storage is never used: loading mtcute does not load better-sqlite3 (scripts/bundle.mjs).
    expect(lazy.filter((file) => meta.outputs[file]!.imports.some((imported) => imported.path === 'better-sqlite3'))).toEqual([]);
  });

  it('holds stand-ins, not Ajv, fast-json-stringify’s compiler, OpenTelemetry, ip-address, proxy-addr nor tdigest; the real modules resolve from dist/ for their first use', () => {
    const startup = staticClosure('dist/main.js');
    const inputs = startup.flatMap((file) => Object.keys(meta.outputs[file]!.inputs));
    expect(inputs).toContain('scripts/deferred/ajv-compiler.cjs'); // the check below is not vacuous
    expect(inputs.filter((input) => /^node_modules\/(ajv\/|ajv-formats\/|@fastify\/(ajv|fast-json-stringify)-compiler\/|fast-json-stringify\/index|@opentelemetry\/|light-my-request\/|ip-address\/|ipaddr\.js\/|@fastify\/proxy-addr\/|tdigest\/|bintrees\/)/.test(input))).toEqual([]);
    const requireFromBundle = createRequire(path.join(ROOT, 'dist', 'main.js'));
    const externals = meta.outputs['dist/main.js']!.imports.filter((imported) => imported.external).map((imported) => imported.path);
    for (const real of ['@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler', '@opentelemetry/api', 'light-my-request', 'ip-address', '@fastify/proxy-addr', 'tdigest']) {
      expect(externals).toContain(real);
      expect(() => requireFromBundle.resolve(real)).not.toThrow();
    }
  });
});
