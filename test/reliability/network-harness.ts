/**
 * Shared pieces of the network, revocation and load reliability tests: the real service process pointed at
 * a sandbox DC the test controls, a fresh logged-in account, status polling, the files' fingerprint and
 * percentiles. Nothing here is mocked: every call crosses HTTP and MTProto over TCP.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { startService, type LogLine } from '../helpers/service-process.js';
import type { Body } from '../helpers/sandbox-service.js';

export { loginThrough, seededRandom, sleep, status, uniquePhone, waitForStatus, type Body } from '../helpers/sandbox-service.js';
import { loginThrough, uniquePhone } from '../helpers/sandbox-service.js';
import { accountFile } from '../helpers/layout.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

/** A data directory logged in as a fresh account (the service that logged in has stopped cleanly). */
export async function loggedInDataDir(
  dc: TestSandbox,
  env: Record<string, string> = {},
): Promise<{ dataDir: string; phone: string; userId: number }> {
  const phone = uniquePhone();
  const user = dc.controls.createUser({ phone, firstName: 'Rel', homeDc: 2 });
  // The key exchange is the slow part of a first login: a generous timeout here only.
  const svc = await startService({ dc, env: { LOGIN_RATE_LIMIT: '0', CLIENT_READY_TIMEOUT: '10s', ...env } });
  const done = await loginThrough(svc, dc, phone);
  if (done.state !== 'authenticated') throw new Error(`login ended in ${JSON.stringify(done)}`);
  const code = await svc.stop();
  if (code !== 0) throw new Error(`the login service exited with ${code}`);
  return { dataDir: svc.dataDir, phone, userId: user.id };
}

/** What must survive every fault: the same auth keys in session.json and the same user in auth_state.json. */
export interface FilesFingerprint {
  authKeys: string | null;
  authStateUserId: number | null;
}

export function filesFingerprint(dataDir: string): FilesFingerprint {
  return {
    authKeys: readJson(accountFile(dataDir, 'session.json'), (doc) => JSON.stringify(doc.authKeys ?? null)),
    authStateUserId: readJson(accountFile(dataDir, 'auth_state.json'), (doc) => (typeof doc.user_id === 'number' ? doc.user_id : null)),
  };
}

function readJson<T>(file: string, pick: (doc: Body) => T): T | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  return pick(JSON.parse(text));
}

export function fileExists(dataDir: string, name: 'session.json' | 'auth_state.json'): boolean {
  return fs.existsSync(path.join(dataDir, name));
}

/** State changes away from `authenticated` after start-up: each one is a log-out the user did not ask for. */
export function logoutLines(lines: LogLine[]): LogLine[] {
  return lines.filter((l) => typeof l.msg === 'string' && (['logged_out', 'revoked', 'expired'] as const).map(LOG_MESSAGES.accountState).includes(l.msg) && l.from !== 'start-up');
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}
