/**
 * The `sandbox-dc` CLI as a real process (run from source with tsx), for the CLI's tests: started with
 * arguments, its stdout parsed (addresses, admin URL, key), killed after the test that started it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';

export const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A temp directory removed after the current test. */
export function tempDir(prefix = 'sandbox-dc-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** A port p with p and p + 1 both free right now. */
export async function freePortPair(): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | null>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(null));
      s.listen(port, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
  for (let i = 0; i < 50; i++) {
    const p = await tryListen(0);
    if (p && p < 65535 && (await tryListen(p + 1)) !== null) return p;
  }
  throw new Error('no free port pair');
}

export interface CliProcess {
  child: ChildProcess;
  /** Exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

export interface Started extends CliProcess {
  lines: string[];
  pem: string;
  adminUrl: string;
  /** DC 1 and DC 2 as clients dial them. */
  dcs: { id: number; host: string; port: number }[];
}

/**
 * Spawns the CLI without waiting for it. `fileLimit` runs it under `ulimit -n` (soft and hard), for
 * tests about running out of file descriptors.
 */
export function spawnCli(args: string[], opts: { fileLimit?: number } = {}): CliProcess {
  const node = [process.execPath, '--conditions=source', '--import', 'tsx', CLI, ...args];
  const child =
    opts.fileLimit === undefined
      ? spawn(node[0]!, node.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('/bin/sh', ['-c', `ulimit -n ${opts.fileLimit} && exec "$@"`, 'sh', ...node], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, stdout: () => out, stderr: () => err };
}

/** Spawns the CLI and waits until it printed its addresses and key. */
export async function startCli(args: string[], opts: { fileLimit?: number } = {}): Promise<Started> {
  const cli = spawnCli(args, opts);
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (cli.stdout().includes('-----END RSA PUBLIC KEY-----')) resolve();
    };
    cli.child.stdout!.on('data', check);
    check();
    void cli.exited.then((code) => reject(new Error(`cli exited with ${code}: ${cli.stderr()}`)));
  });
  const out = cli.stdout();
  const lines = out.split('\n');
  const pem = out.slice(out.indexOf('-----BEGIN RSA PUBLIC KEY-----'));
  const adminUrl = lines.find((l) => l.startsWith('admin '))!.slice('admin '.length);
  const dcs = [1, 2].map((id) => {
    const [host, port] = lines.find((l) => l.startsWith(`listening dc=${id} `))!.split(' ')[2]!.split(':');
    return { id, host: host!, port: Number(port) };
  });
  return { ...cli, lines, pem, adminUrl, dcs };
}

/** POST a control to the admin endpoint; expects 200 and returns the JSON answer. */
export async function admin(url: string, control: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${url}/${control}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return res.json();
}
