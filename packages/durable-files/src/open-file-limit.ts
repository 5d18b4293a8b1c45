/**
 * How many files this process may have open at once (RLIMIT_NOFILE's soft limit; Node raises it to the
 * hard limit at start-up). Every socket counts: a server that accepts connections without a cap below
 * this limit can be made to fail every open() — its own files and its own connections — by anyone who
 * can connect. Both programs size their connection caps from it.
 */
import { readFileSync } from 'node:fs';

/** The limit, or undefined where it cannot be read (not Linux) or is unlimited. */
export function openFileLimit(procLimits = '/proc/self/limits'): number | undefined {
  let text: string;
  try {
    text = readFileSync(procLimits, 'utf8');
  } catch {
    return undefined;
  }
  // "Max open files            1024                 4096                 files"
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!match || match[1] === 'unlimited') return undefined;
  return Number(match[1]);
}
