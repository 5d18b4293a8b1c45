/**
 * What a start loads before its first answer: the bundle's dist/main.js (scripts/bundle.mjs; `npm test`
 * builds it first) and the chunks it imports statically, followed transitively. mtcute is not among them:
 * it is loaded on first use (src/telegram/load.ts), and a single value import of it from a module on the
 * start-up path — even a one-line helper through its utils barrel — puts mtcute's core (1.1 MB) there.
 * Nor does loading mtcute load better-sqlite3, behind the SQLite storage the service never uses.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist');
/** `import … from "./x.js"` / `export … from "./x.js"` / `import "./x.js"` at the start of a line; import() is not one. */
const STATIC_IMPORT = /^(?:import|export)\b[^;]*?\bfrom\s*"(\.{1,2}\/[^"]+)"|^import\s*"(\.{1,2}\/[^"]+)"|^\} from "(\.{1,2}\/[^"]+)"/gm;

function startupFiles(entry: string): Map<string, string> {
  const files = new Map<string, string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    const text = readFileSync(file, 'utf8');
    files.set(file, text);
    for (const match of text.matchAll(STATIC_IMPORT)) pending.push(path.resolve(path.dirname(file), (match[1] ?? match[2] ?? match[3])!));
  }
  return files;
}

describe('the start-up bundle', () => {
  it('holds no mtcute: dist/main.js and the chunks it imports statically', () => {
    const files = startupFiles(path.join(DIST, 'main.js'));
    expect(files.size).toBeGreaterThan(1); // the chunks were found: the check below is not vacuous
    const withMtcute = [...files].filter(([, text]) => text.includes('// node_modules/@mtcute/')).map(([file]) => path.relative(DIST, file));
    expect(withMtcute).toEqual([]);
    // …while the chunk loaded on first use has it (the marker this looks for is what esbuild writes).
    const runtime = /import\("(\.\/chunks\/runtime-[^"]+)"\)/.exec(files.get(path.join(DIST, 'main.js'))!)?.[1];
    expect(runtime).toBeDefined();
    const lazy = startupFiles(path.join(DIST, runtime!));
    expect([...lazy.values()].some((text) => text.includes('// node_modules/@mtcute/'))).toBe(true);
    // mtcute's SQLite storage is never used: loading mtcute does not load better-sqlite3 (scripts/bundle.mjs).
    expect([...lazy].filter(([, text]) => /\bfrom\s*"better-sqlite3"|import\("better-sqlite3"\)/.test(text)).map(([file]) => path.relative(DIST, file))).toEqual([]);
  });
});
