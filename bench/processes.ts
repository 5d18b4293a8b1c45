/**
 * The processes the bench measures: the real service (`node dist/main.js`, as `npm start` runs it), the
 * bare baselines (bare-servers.mjs, bare-mtcute.mjs: plain JavaScript run by plain node) and the sandbox
 * DC in a process of its own — plus what /proc says about them (CPU time, RSS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '../dev/ports.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BENCH_DIR = path.join(REPO_ROOT, 'bench');

export interface DcAddress {
  dcs: { id: number; host: string; port: number }[];
  publicKeyPem: string;
}

/** DC 2 of the sandbox, as the service's SANDBOX_DC setting and a bare client's target. */
export function dc2Of(dc: DcAddress): { host: string; port: number } {
  const dc2 = dc.dcs.find((d) => d.id === 2);
  if (!dc2) throw new Error('the sandbox DC reported no DC 2');
  return dc2;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `pred` every `everyMs` (default 2 ms) until it holds (errors count as "not yet"). */
export async function waitUntil(pred: () => Promise<boolean> | boolean, timeoutMs = 60_000, what = 'condition', everyMs = 2): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await Promise.resolve().then(pred).catch(() => false)) return;
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (user + system) a process has used so far, ms. */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size, MiB. */
export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

/** A child process that is killed when the bench ends, whatever happens. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited.finally(() => clearTimeout(timer));
}

/** Lines a child writes on stdout, one at a time. */
function lineReader(child: ChildProcess): (timeoutMs?: number) => Promise<string> {
  const lines: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  let ended = false;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else lines.push(line);
  });
  child.once('exit', () => {
    ended = true;
    for (const waiter of waiters.splice(0)) waiter('');
  });
  return (timeoutMs = 120_000) => {
    const line = lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (ended) return Promise.reject(new Error(`process ${child.pid} exited (${child.exitCode ?? child.signalCode})`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line from process ${child.pid} within ${timeoutMs} ms`)), timeoutMs);
      waiters.push((l) => {
        clearTimeout(timer);
        if (ended && l === '') reject(new Error(`process ${child.pid} exited (${child.exitCode ?? child.signalCode})`));
        else resolve(l);
      });
    });
  };
}

// ───────────────────────────── the sandbox DC ─────────────────────────────

export interface DcProcess extends DcAddress {
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** The sandbox DC in a process of its own (its CPU is not the measured process's). */
export async function startDcProcess(): Promise<DcProcess> {
  const proc = track(
    spawn(process.execPath, ['--conditions=source', '--import', 'tsx', path.join(BENCH_DIR, 'dc-process.ts')], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const next = lineReader(proc);
  const address = JSON.parse(await next(60_000)) as DcAddress;
  return { ...address, proc, stop: () => stopProcess(proc) };
}

// ───────────────────────────── the service ─────────────────────────────

export interface ServiceProcess {
  proc: ChildProcess;
  pid: number;
  baseUrl: string;
  token: string;
  dataDir: string;
  /** performance.now() when the process was spawned. */
  spawnedAt: number;
  request<T = any>(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: T }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  stop(): Promise<void>;
}

export const BENCH_TOKEN = 'bench-api-token-0123456789abcdef';

/** Starts `node dist/main.js` on a data directory, talking to the external sandbox DC; does not wait. */
export async function spawnService(opts: {
  dataDir: string;
  dc: DcAddress;
  env?: Record<string, string>;
  /** Options for node itself (e.g. --cpu-prof or --trace-gc when looking into a figure). */
  nodeArgs?: string[];
  /** Where the process's stdout goes (default: nowhere; the service logs to its log file). */
  stdoutFile?: string;
}): Promise<ServiceProcess> {
  const port = await freePort();
  const cwd = await fsp.mkdtemp(path.join(os.tmpdir(), 'bench-cwd-'));
  const keyFile = path.join(cwd, 'sandbox-dc-public.pem');
  await fsp.writeFile(keyFile, opts.dc.publicKeyPem);
  const dc2 = dc2Of(opts.dc);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    DATA_DIR: opts.dataDir,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'info',
    API_TOKEN: BENCH_TOKEN,
    SANDBOX_DC: `${dc2.host}:${dc2.port}`,
    SANDBOX_DC_PUBLIC_KEY_FILE: keyFile,
    ...opts.env,
  };
  const spawnedAt = performance.now();
  const stdout = opts.stdoutFile ? fs.openSync(opts.stdoutFile, 'w') : 'ignore';
  const proc = track(spawn(process.execPath, [...(opts.nodeArgs ?? []), path.join(REPO_ROOT, 'dist', 'main.js')], { cwd, env, stdio: ['ignore', stdout, 'pipe'] }));
  if (typeof stdout === 'number') fs.closeSync(stdout);
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 10_000) stderr += chunk;
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    proc,
    pid: proc.pid!,
    baseUrl,
    token: BENCH_TOKEN,
    dataDir: opts.dataDir,
    spawnedAt,
    async request(method, urlPath, body) {
      if (proc.exitCode !== null) throw new Error(`the service exited (${proc.exitCode}): ${stderr}`);
      const res = await fetch(`${baseUrl}${urlPath}`, {
        method,
        headers: { authorization: `Bearer ${BENCH_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      const json = (res.headers.get('content-type') ?? '').includes('json');
      return { status: res.status, body: json && text ? JSON.parse(text) : text || undefined };
    },
    async stop() {
      await stopProcess(proc);
      await fsp.rm(cwd, { recursive: true, force: true });
    },
  };
}

// ───────────────────────────── bare baselines ─────────────────────────────

/** A bare HTTP server (bare-servers.mjs): time from spawn to its first answer. */
export async function startBareServer(kind: 'http' | 'fastify' | 'fastify-status', configFile?: string) {
  const port = await freePort();
  const t0 = performance.now();
  const args = [path.join(BENCH_DIR, 'bare-servers.mjs'), kind, String(port), ...(configFile ? [configFile] : [])];
  const proc = track(spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: 'ignore' }));
  const url = `http://127.0.0.1:${port}/`;
  await waitUntil(async () => (await fetch(url)).status > 0, 30_000, `bare ${kind} server`);
  return { port, url, proc, pid: proc.pid!, startMs: performance.now() - t0, stop: () => stopProcess(proc) };
}

/**
 * A consumer of the service's events in a process of its own (event-consumer.ts, run by tsx). It prints one
 * JSON line per step; `next()` reads the next one.
 */
export function startEventConsumer(args: string[]) {
  const proc = track(
    spawn(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'event-consumer.ts'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  const next = lineReader(proc);
  return {
    proc,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    next: async (timeoutMs?: number): Promise<any> => JSON.parse(await next(timeoutMs)),
    stop: () => stopProcess(proc),
  };
}

/**
 * A bare mtcute client process (bare-mtcute.mjs). It prints one JSON line per step; `next()` reads the
 * next one.
 */
export function startBareMtcute(mode: string, dc: DcAddress, args: string[] = []) {
  const dc2 = dc2Of(dc);
  const t0 = performance.now();
  const proc = track(
    spawn(process.execPath, [path.join(BENCH_DIR, 'bare-mtcute.mjs'), mode, `${dc2.host}:${dc2.port}`, ...args], {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, SANDBOX_DC_PUBLIC_KEY: dc.publicKeyPem },
    }),
  );
  const next = lineReader(proc);
  return {
    proc,
    pid: proc.pid!,
    spawnedAt: t0,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    next: async (timeoutMs?: number): Promise<any> => JSON.parse(await next(timeoutMs)),
    stop: () => stopProcess(proc),
  };
}
