/**
 * The real service process under another uid, for the one thing root cannot be shown: a file it may not
 * read (root ignores file modes, so `chmod 000` proves nothing when the service runs as root). When the
 * tests run as root, the service runs as `nobody` on a data directory owned by `nobody`; otherwise it runs
 * as the current user, for whom `chmod 000` already means EACCES.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MAIN_SCRIPT, readLogLines, type HttpResult } from '../../helpers/service-process.js';
import { eventually } from './shared-dc.js';
import { LOG_MESSAGES } from '../../../src/logging/messages.js';

export const NOBODY = { uid: 65534, gid: 65534 };
export const RUNNING_AS_ROOT = process.getuid?.() === 0;

export interface UserService {
  request(method: string, route: string): Promise<HttpResult>;
  logMessages(): string[];
  stop(): Promise<number | null>;
}

/** A directory tree both this process and the service's user can reach (mode 0755, owned by that user). */
export function makeSharedRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'run-as-'));
  fs.chmodSync(root, 0o755);
  if (RUNNING_AS_ROOT) fs.chownSync(root, NOBODY.uid, NOBODY.gid);
  return root;
}

/** chown -R to the service's user (only when running as root). */
export function giveToServiceUser(dir: string): void {
  if (!RUNNING_AS_ROOT) return;
  fs.chownSync(dir, NOBODY.uid, NOBODY.gid);
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    const stat = fs.lstatSync(p);
    if (stat.isDirectory()) giveToServiceUser(p);
    else fs.lchownSync(p, NOBODY.uid, NOBODY.gid);
  }
}

export async function startServiceAsServiceUser(opts: {
  dataDir: string;
  cwd: string;
  sandbox: { host: string; port: number; publicKeyPem: string };
  env?: Record<string, string>;
}): Promise<UserService> {
  const keyFile = path.join(opts.cwd, 'sandbox-dc-public.pem');
  fs.writeFileSync(keyFile, opts.sandbox.publicKeyPem, { mode: 0o644 });
  const token = 'run-as-user-test-token-0123456789abcdef';
  const proc = spawn(process.execPath, [MAIN_SCRIPT], {
    cwd: opts.cwd,
    env: {
      PATH: process.env.PATH,
      DATA_DIR: opts.dataDir,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      API_TOKEN: token,
      SANDBOX_DC: `${opts.sandbox.host}:${opts.sandbox.port}`,
      SANDBOX_DC_PUBLIC_KEY_FILE: keyFile,
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(RUNNING_AS_ROOT ? NOBODY : {}),
  });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  proc.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const logFile = path.join(opts.dataDir, 'telegram_service.log');
  const lines = () => readLogLines(logFile, proc.pid);
  const port = await eventually(
    () => {
      if (proc.exitCode !== null) throw new Error(`the service exited (${proc.exitCode}): ${stderr.slice(0, 2000)}`);
      const listening = lines().find((l) => l.msg === LOG_MESSAGES.listening);
      return listening ? Number(listening.port) : undefined;
    },
    'the service (as another user) to listen',
    30_000,
  ).catch(async (err: unknown) => {
    proc.kill('SIGKILL');
    await exited;
    throw err;
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    async request(method, route) {
      const res = await fetch(`${baseUrl}${route}`, { method, headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      return { status: res.status, headers: {}, body: text ? JSON.parse(text) : undefined };
    },
    logMessages: () => lines().map((l) => String(l.msg ?? '')),
    async stop() {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      return exited.finally(() => clearTimeout(timer));
    },
  };
}
