/**
 * What the service left in a data directory, judged with the product's own decoders (real code, no
 * copies): each of session.json, session.json.bak and auth_state.json is absent, a complete valid
 * version, or bad (partial, garbage, wrong shape) — plus the files that should never linger
 * (`*.corrupt-*` moved-aside files, `.tmp-` files of interrupted writes).
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeAuthState } from '../../../src/store/auth-state.js';
import { decodeSessionFile, type SessionDocument } from '../../../src/store/session-document.js';
import type { AuthStateFile } from '../../../src/store/types.js';
import { accountDir, accountFile } from '../../helpers/layout.js';

export type FileVerdict<T> =
  | { kind: 'absent' }
  | { kind: 'ok'; value: T; raw: Buffer; mode: number }
  | { kind: 'bad'; problem: string };

export interface DataDirSnapshot {
  session: FileVerdict<SessionDocument>;
  backup: FileVerdict<SessionDocument>;
  authState: FileVerdict<AuthStateFile>;
  /** Names of moved-aside files (`session.json.corrupt-…`, `auth_state.json.corrupt-…`). */
  corruptFiles: string[];
  /** Names of temp files of interrupted atomic writes. */
  tempFiles: string[];
}

function judge<T>(file: string, decode: (bytes: Buffer) => T): FileVerdict<T> {
  let raw: Buffer;
  let mode: number;
  try {
    const stat = fs.lstatSync(file);
    if (!stat.isFile()) return { kind: 'bad', problem: `${path.basename(file)} is not a regular file` };
    mode = stat.mode & 0o777;
    raw = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'bad', problem: `${path.basename(file)}: ${(err as Error).message}` };
  }
  try {
    return { kind: 'ok', value: decode(raw), raw, mode };
  } catch (err) {
    return { kind: 'bad', problem: `${path.basename(file)} (${raw.length} bytes): ${(err as Error).message}` };
  }
}

/** The default account's files in `dataDir` (accounts/default/). */
export function inspectDataDir(dataDir: string, environment = 'sandbox'): DataDirSnapshot {
  const dir = accountDir(dataDir);
  const session = (name: string) =>
    judge(path.join(dir, name), (bytes) => decodeSessionFile(name, bytes, { environment }).doc);
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    // no directory: everything absent
  }
  return {
    session: session('session.json'),
    backup: session('session.json.bak'),
    authState: judge(accountFile(dataDir, 'auth_state.json'), (bytes) => decodeAuthState('auth_state.json', bytes)),
    corruptFiles: names.filter((n) => n.includes('.corrupt-')),
    tempFiles: names.filter((n) => n.includes('.tmp-')),
  };
}

/** Problems with the files themselves (independent of what the last operation promised). */
export function fileProblems(snap: DataDirSnapshot): string[] {
  const problems: string[] = [];
  for (const [name, verdict] of [
    ['session.json', snap.session],
    ['session.json.bak', snap.backup],
    ['auth_state.json', snap.authState],
  ] as const) {
    if (verdict.kind === 'bad') problems.push(`${name} is not a complete version: ${verdict.problem}`);
    if (verdict.kind === 'ok' && verdict.mode !== 0o600) problems.push(`${name} has mode 0${verdict.mode.toString(8)}`);
  }
  if (snap.corruptFiles.length > 0) problems.push(`files were moved aside as corrupt: ${snap.corruptFiles.join(', ')}`);
  // Login writes the key before auth_state.json, logout removes auth_state.json first: never the reverse.
  if (snap.authState.kind === 'ok' && !(snap.session.kind === 'ok' && snap.session.value.authKeys.size > 0)) {
    problems.push('auth_state.json exists without an auth key in session.json');
  }
  return problems;
}

export function hasAuthKey(snap: DataDirSnapshot): boolean {
  return snap.session.kind === 'ok' && snap.session.value.authKeys.size > 0;
}

/** Rewrites auth_state.json (service stopped) with saved_at moved back, so the next API call refreshes it. */
export function backdateAuthState(dataDir: string, byMs: number): string | undefined {
  const file = accountFile(dataDir, 'auth_state.json');
  let state: AuthStateFile;
  try {
    state = JSON.parse(fs.readFileSync(file, 'utf8')) as AuthStateFile;
  } catch {
    return undefined;
  }
  const savedAt = new Date(Date.now() - byMs).toISOString();
  const tmp = `${file}.test-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify({ ...state, saved_at: savedAt }, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
  return savedAt;
}
