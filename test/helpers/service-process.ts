/**
 * Starting a sandbox DC and the service in tests — the one API:
 *
 *   const dc = await startTestSandbox();                    // a sandbox DC in this process (@telegram-service/sandbox-dc/testing):
 *                                                           //   dc.controls reads login codes and injects faults
 *   const svc = await startService({ dc, env: TEST_ENV });  // the real service process on it, over TCP
 *   const svc = await startService();                       // … or on the DC built into the service (SANDBOX_DC_PORT)
 *   const sandbox = sandboxPerFile();                       // one DC for the calling test file (beforeAll / afterAll),
 *   const svc = await sandbox.service({ dataDir });         //   and the service on it with TEST_ENV under each call's env
 *
 *   await svc.request('POST', '/api/telegram/auth/send-code', { phone: '+9996621234' });
 *   await svc.waitForLog(LOG_MESSAGES.sessionRestored);    // src/logging/messages.ts, never a copied string
 *   expect(await svc.stop()).toBe(0);                      // or svc.kill9()
 *
 * startService's options: `dc` (a TestSandbox, or an external DC's address and key), `dataDir` (the same
 * directory again is a restart), `env` (undefined removes a variable), `user` (run as another uid/gid when
 * root), `noWait` (for processes expected to fail at start), `readyTimeoutMs`. The in-process Account of
 * the unit tests has its own harness (test/unit/account.harness.ts); the DC package's own tests use its
 * test helpers (packages/sandbox-dc/test/helpers/).
 *
 * The process is `node dist/main.js` (built by `pretest`) with its own data directory, on 127.0.0.1, with
 * a minimal environment (nothing of the developer's shell or `.env` leaks in: the child's cwd is a temp
 * directory). HTTP port: the service is started with PORT=0 and the helper reads the port the kernel gave
 * it from the "HTTP API listening" log line (no race between picking a port and binding it). Every process
 * started here is killed when the test file ends (afterAll) or the test runner exits: no orphans.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, freePorts } from '../../dev/ports.js';
import { fileURLToPath } from 'node:url';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MAIN_SCRIPT = path.join(REPO_ROOT, 'dist', 'main.js');

/**
 * Settings for tests on a sandbox DC: no login rate limit in the way (the tests of the limit set their
 * own), quick retries, a call timeout that a first key exchange on a loaded 2-core machine still meets.
 */
export const TEST_ENV: Readonly<Record<string, string>> = { LOGIN_RATE_LIMIT: '0', CLIENT_READY_TIMEOUT: '10s', RETRY_MAX_DELAY: '500' };

/** A sandbox DC the service reaches over TCP: its address and RSA public key. */
export interface DcEndpoint {
  host: string;
  port: number;
  publicKeyPem: string;
}

export type LogLine = { level: number; time: string; pid: number; msg?: string } & Record<string, unknown>;
export type LogMatcher = string | RegExp | ((line: LogLine) => boolean);

export interface StartServiceOptions {
  /**
   * The sandbox DC to talk to: one started by the test (startTestSandbox; the service uses its DC 2), or an
   * external DC's address and key. Default: the DC built into the service, on free ports.
   */
  dc?: TestSandbox | DcEndpoint;
  /** Reuse a data directory (a restart). Default: a fresh temp directory. */
  dataDir?: string;
  /** Extra environment variables (undefined removes one set by the helper, e.g. { LOG_LEVEL: undefined }). */
  env?: Record<string, string | undefined>;
  /**
   * Run the process as this user (this process must be root): its cwd and the DC's key file are made
   * readable for it; the data directory is the caller's to prepare.
   */
  user?: { uid: number; gid: number };
  /** How long to wait for /healthz (default 30 s). */
  readyTimeoutMs?: number;
  /** Do not wait for /healthz (for processes expected to fail at start); `exited` tells how it ended. */
  noWait?: boolean;
  /** Run the service under this open-file limit (`ulimit -n`, soft and hard), e.g. to exhaust it in a test. */
  fileLimit?: number;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the answer is JSON, else the text. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface RequestOptions {
  /** Bearer token; default the service's token; null sends no Authorization header. */
  token?: string | null;
  headers?: Record<string, string>;
  /** Send this exact body (e.g. broken JSON) instead of JSON.stringify(body). */
  rawBody?: string | Buffer;
  signal?: AbortSignal;
}

export interface ServiceProcess {
  baseUrl: string;
  port: number;
  /** The API token (API_TOKEN from env, or DATA_DIR/api_token written by the service). */
  token: string;
  dataDir: string;
  logFile: string;
  proc: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The log file's JSON lines written by this process (all processes with { all: true }). */
  logLines(opts?: { all?: boolean }): LogLine[];
  /** The first line (of this process) matching: a string matches `msg` exactly or as a substring. */
  waitForLog(match: LogMatcher, timeoutMs?: number): Promise<LogLine>;
  request(method: string, urlPath: string, body?: unknown, opts?: RequestOptions): Promise<HttpResult>;
  /** Signal (default SIGTERM) and wait for the exit; returns the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  kill9(): Promise<void>;
  /** Captured stdout/stderr (for failure messages). */
  output(): { stdout: string; stderr: string };
}

// ---- process bookkeeping: nothing outlives the test file ----

const running = new Set<ChildProcess>();
const tempRoots = new Set<string>();

/** Kills every service process still running (SIGKILL) and removes the helper's temp directories. */
export async function stopAllServices(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  running.clear();
  for (const root of tempRoots) fs.rmSync(root, { recursive: true, force: true });
  tempRoots.clear();
}

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
/** vitest's hooks when running under it (the bench runs these helpers outside it). */
const vitest = process.env.VITEST ? await import('vitest') : undefined;
vitest?.afterAll(stopAllServices);

// ---- ports ----

export { freePort };

/**
 * The in-process sandbox DC's port per data directory: a restart must find the DC where session.json
 * says it is, so the same data directory always gets the same port.
 */
const sandboxPortByDataDir = new Map<string, number>();

// ---- starting ----

export async function startService(opts: StartServiceOptions = {}): Promise<ServiceProcess> {
  if (!fs.existsSync(MAIN_SCRIPT)) throw new Error(`${MAIN_SCRIPT} is missing: run \`npm run build\` first`);

  let dataDir: string;
  if (opts.dataDir) {
    dataDir = path.resolve(opts.dataDir);
  } else {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tgsvc-'));
    tempRoots.add(root);
    dataDir = path.join(root, 'data');
  }
  // The child's cwd: a directory of its own, so no `.env` of the repository is picked up.
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tgsvc-cwd-'));
  tempRoots.add(cwd);
  if (opts.user) fs.chmodSync(cwd, 0o755);

  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG,
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
  };
  const dc = endpointOf(opts.dc);
  if (dc) {
    const keyFile = path.join(cwd, 'sandbox-dc-public.pem');
    fs.writeFileSync(keyFile, dc.publicKeyPem, { mode: 0o644 });
    env.SANDBOX_DC = `${dc.host}:${dc.port}`;
    env.SANDBOX_DC_PUBLIC_KEY_FILE = keyFile;
  } else {
    let port = sandboxPortByDataDir.get(dataDir);
    if (port === undefined) {
      port = await freePorts(2); // the in-process sandbox DC listens on port and port + 1
      sandboxPortByDataDir.set(dataDir, port);
    }
    env.SANDBOX_DC_PORT = String(port);
  }
  Object.assign(env, opts.env ?? {});
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];

  const logFile = env.LOG_FILE ? path.resolve(cwd, env.LOG_FILE) : path.join(dataDir, 'telegram_service.log');

  // With a file limit, a shell sets it and then becomes node (exec): the pid is the service's.
  const proc =
    opts.fileLimit === undefined
      ? spawn(process.execPath, [MAIN_SCRIPT], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], ...opts.user })
      : spawn('/bin/sh', ['-c', `ulimit -n ${opts.fileLimit} && exec "$0" "$1"`, process.execPath, MAIN_SCRIPT], {
          cwd,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
          ...opts.user,
        });
  running.add(proc);
  const captured = { stdout: '', stderr: '' };
  const MAX_CAPTURE = 1 << 20;
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    if (captured.stdout.length < MAX_CAPTURE) captured.stdout += chunk;
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    if (captured.stderr.length < MAX_CAPTURE) captured.stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      resolve({ code, signal });
    });
  });
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  const pid = proc.pid!;
  const logLines = ({ all = false }: { all?: boolean } = {}): LogLine[] => readLogLines(logFile, all ? undefined : pid);

  const waitForLog = async (match: LogMatcher, timeoutMs = 15_000): Promise<LogLine> => {
    const test = toPredicate(match);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = logLines().find(test);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`log line ${String(match)} not seen within ${timeoutMs} ms; last lines:\n${tail(logLines())}`);
      }
      if (hasExited) {
        // One more read: the line may have been written just before the exit.
        const late = logLines().find(test);
        if (late) return late;
        throw new Error(`service exited before logging ${String(match)}:\n${describeOutput(captured, logLines())}`);
      }
      await sleep(25);
    }
  };

  const service: ServiceProcess = {
    baseUrl: '',
    port: 0,
    token: env.API_TOKEN ?? '',
    dataDir,
    logFile,
    proc,
    exited,
    logLines,
    waitForLog,
    output: () => ({ ...captured }),
    request: (method, urlPath, body, requestOpts = {}) =>
      httpRequest(service.baseUrl, requestOpts.token === undefined ? service.token : requestOpts.token, method, urlPath, body, requestOpts),
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (!hasExited) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const { code } = await exited.finally(() => clearTimeout(timer));
      return code;
    },
    async kill9() {
      if (!hasExited) proc.kill('SIGKILL');
      await exited;
    },
  };

  if (opts.noWait) return service;

  try {
    const listening = await waitForLog(LOG_MESSAGES.listening, opts.readyTimeoutMs ?? 30_000);
    const port = Number(listening.port);
    if (!Number.isInteger(port) || port <= 0) throw new Error(`"${LOG_MESSAGES.listening}" log line without a port`);
    service.port = port;
    service.baseUrl = `http://127.0.0.1:${port}`;
    if (!service.token) service.token = fs.readFileSync(path.join(dataDir, 'api_token'), 'utf8').trim();
    await waitForHealthz(service.baseUrl, opts.readyTimeoutMs ?? 30_000, () => hasExited);
  } catch (err) {
    await service.kill9();
    throw new Error(`${(err as Error).message}\n${describeOutput(captured, logLines())}`);
  }
  return service;
}

/** DC 2 of a test sandbox, or the address given. */
function endpointOf(dc: StartServiceOptions['dc']): DcEndpoint | undefined {
  if (!dc || !('dcs' in dc)) return dc;
  const dc2 = dc.dcs.find((d) => d.id === 2);
  if (!dc2) throw new Error('the test sandbox has no DC 2');
  return { host: dc2.host, port: dc2.port, publicKeyPem: dc.publicKeyPem };
}

/**
 * One sandbox DC for the calling test file (started before its tests, disposed after them), and the real
 * service on it with `env` (default TEST_ENV) under each call's own overrides.
 */
export function sandboxPerFile(env: Record<string, string> = TEST_ENV): {
  readonly dc: TestSandbox;
  service(opts?: Omit<StartServiceOptions, 'dc'>): Promise<ServiceProcess>;
} {
  if (!vitest) throw new Error('sandboxPerFile() registers vitest hooks: call it in a test file');
  let dc: TestSandbox | undefined;
  vitest.beforeAll(async () => {
    dc = await startTestSandbox();
  });
  vitest.afterAll(async () => {
    await dc?.dispose();
  });
  const started = (): TestSandbox => {
    if (!dc) throw new Error('the sandbox DC starts in beforeAll');
    return dc;
  };
  return {
    get dc() {
      return started();
    },
    service: (opts = {}) => startService({ ...opts, dc: started(), env: { ...env, ...opts.env } }),
  };
}

async function waitForHealthz(baseUrl: string, timeoutMs: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not up yet
    }
    if (exited()) throw new Error('service exited before /healthz answered');
    if (Date.now() > deadline) throw new Error(`/healthz did not answer within ${timeoutMs} ms`);
    await sleep(25);
  }
}

async function httpRequest(
  baseUrl: string,
  token: string | null,
  method: string,
  urlPath: string,
  body: unknown,
  opts: RequestOptions,
): Promise<HttpResult> {
  if (!baseUrl) throw new Error('the service is not listening (started with noWait?)');
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let payload: string | Buffer | undefined;
  if (opts.rawBody !== undefined) {
    payload = opts.rawBody;
    headers['content-type'] = 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  Object.assign(headers, opts.headers ?? {});
  const res = await fetch(`${baseUrl}${urlPath}`, {
    method,
    headers,
    body: payload,
    signal: opts.signal ?? AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const resultHeaders: Record<string, string> = {};
  res.headers.forEach((value, key) => (resultHeaders[key] = value));
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, headers: resultHeaders, body: parsed };
}

// ---- log file ----

export function readLogLines(logFile: string, pid?: number): LogLine[] {
  let text: string;
  try {
    text = fs.readFileSync(logFile, 'utf8');
  } catch {
    return [];
  }
  const lines: LogLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    try {
      const line = JSON.parse(raw) as LogLine;
      if (pid === undefined || line.pid === pid) lines.push(line);
    } catch {
      // a line being written, or not ours
    }
  }
  return lines;
}

function toPredicate(match: LogMatcher): (line: LogLine) => boolean {
  if (typeof match === 'function') return match;
  if (match instanceof RegExp) return (line) => typeof line.msg === 'string' && match.test(line.msg);
  return (line) => typeof line.msg === 'string' && (line.msg === match || line.msg.includes(match));
}

function tail(lines: LogLine[], n = 20): string {
  return lines
    .slice(-n)
    .map((l) => JSON.stringify(l))
    .join('\n');
}

function describeOutput(captured: { stdout: string; stderr: string }, lines: LogLine[]): string {
  return [
    `--- stderr ---\n${captured.stderr.slice(-4000)}`,
    `--- stdout (tail) ---\n${captured.stdout.slice(-4000)}`,
    `--- log (tail) ---\n${tail(lines)}`,
  ].join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
