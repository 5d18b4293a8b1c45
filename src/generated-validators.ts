/**
 * The route validators `npm run build` generated (scripts/compile-validators.mjs): one CommonJS module per
 * validator in dist/validators/, named by its key (lazy-schemas.ts validatorKey), listed in index.json.
 * A module is loaded on the first call of its validator. Without the directory (the service run from src/)
 * there are none, and every validator is compiled as before.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ValidateFunction, ValidatorSource } from './http/lazy-schemas.js';

export const VALIDATORS_INDEX = 'index.json';

export interface ValidatorsIndex {
  keys: string[];
}

export function generatedValidators(dir: string): ValidatorSource {
  let keys: Set<string>;
  try {
    keys = new Set((JSON.parse(readFileSync(path.join(dir, VALIDATORS_INDEX), 'utf8')) as ValidatorsIndex).keys);
  } catch {
    keys = new Set();
  }
  const load = createRequire(path.join(dir, VALIDATORS_INDEX));
  return {
    has: (key) => keys.has(key),
    restore: (key) => load(`./${key}.cjs`) as ValidateFunction,
  };
}
