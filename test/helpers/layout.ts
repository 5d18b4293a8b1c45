/** Where the service keeps an account's files in a data directory (DATA_DIR/accounts/<id>/). */
import path from 'node:path';

export const DEFAULT_ACCOUNT = 'default';

export function accountDir(dataDir: string, id = DEFAULT_ACCOUNT): string {
  return path.join(dataDir, 'accounts', id);
}

/** A file of the account (`session.json`, `auth_state.json`, …). */
export function accountFile(dataDir: string, name: string, id = DEFAULT_ACCOUNT): string {
  return path.join(accountDir(dataDir, id), name);
}
