/**
 * The route validators and response serializers `npm run build` generated (scripts/compile-schemas.mjs): one
 * CommonJS module per function in dist/schemas/, named by its key (lazy-schemas.ts validatorKey,
 * serializerKey), listed in index.json. A module is loaded on the first call of its function. Without the
 * directory (the service run from src/) there are none, and every schema is compiled as before.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ReadyMadeSchemas, Serializer, ValidateFunction } from './http/lazy-schemas.js';

export const SCHEMAS_INDEX = 'index.json';

export interface SchemasIndex {
  keys: string[];
}

export function generatedSchemas(dir: string): ReadyMadeSchemas {
  let keys: Set<string>;
  try {
    keys = new Set((JSON.parse(readFileSync(path.join(dir, SCHEMAS_INDEX), 'utf8')) as SchemasIndex).keys);
  } catch {
    keys = new Set();
  }
  const load = createRequire(path.join(dir, SCHEMAS_INDEX));
  return {
    has: (key) => keys.has(key),
    restore: (key) => load(`./${key}.cjs`) as ValidateFunction | Serializer,
  };
}
