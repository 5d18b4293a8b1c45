/** A store logger that keeps its lines, for tests that check what the store said. */
import type { StoreLog } from '../../src/store/types.js';

export interface StoreLogLine {
  level: 'info' | 'warn' | 'error' | 'debug';
  obj: object;
  msg: string;
}

export function captureStoreLog(): StoreLog & { lines: StoreLogLine[] } {
  const lines: StoreLogLine[] = [];
  const at = (level: StoreLogLine['level']) => (obj: object, msg: string) => void lines.push({ level, obj, msg });
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

/** A store logger that says nothing. */
export const quietStoreLog: StoreLog = { info() {}, warn() {}, error() {}, debug() {} };
