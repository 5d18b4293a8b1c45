/**
 * The web console's files (the repository's console/ folder: plain HTML, CSS, JavaScript modules and an
 * icon), read once at start and served from memory by http/routes/console.ts. Nothing is built.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface ConsoleAsset {
  /** Its Content-Type. */
  type: string;
  body: Buffer;
}

/** File name → file; always holds index.html. */
export type ConsoleAssets = ReadonlyMap<string, ConsoleAsset>;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** `dir`: the repository's console/ folder (main.ts knows where it is, bundled or not). */
export function loadConsoleAssets(dir: string): ConsoleAssets {
  const assets = new Map<string, ConsoleAsset>();
  for (const name of readdirSync(dir).sort()) {
    const type = TYPES[path.extname(name)];
    if (type && /^[a-z0-9][a-z0-9.-]*$/.test(name)) assets.set(name, { type, body: readFileSync(path.join(dir, name)) });
  }
  if (!assets.has('index.html')) throw new Error(`the web console is missing: no index.html in ${dir}`);
  return assets;
}
