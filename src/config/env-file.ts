/** The optional `.env` file in the working directory. Variables already in the real environment win. */
import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import type { Env } from './load-config.js';

/** The variables of `<cwd>/.env`, or {} when there is none. */
export function readDotEnv(cwd: string): Env {
  let text: string;
  try {
    text = fs.readFileSync(path.join(cwd, '.env'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  return parseEnv(text) as Env;
}

/** `.env` values under the real environment: a variable set in both keeps its real-environment value. */
export function mergeEnv(fromFile: Env, real: Env): Env {
  return { ...fromFile, ...real };
}
