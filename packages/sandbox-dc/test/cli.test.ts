/** `sandbox-dc` from the command line: its output, the admin endpoint, SIGTERM, and a restart on the same data. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { sandboxClient } from '../src/testing/sandbox.js';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A port p with p and p + 1 both free right now. */
async function freePortPair(): Promise<number> {
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

interface Started {
  child: ChildProcess;
  lines: string[];
  pem: string;
  adminUrl: string;
  exited: Promise<number | null>;
}

async function startCli(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('-----END RSA PUBLIC KEY-----')) resolve();
    });
    void exited.then((code) => reject(new Error(`cli exited with ${code}: ${err}`)));
  });
  const lines = out.split('\n');
  const pem = out.slice(out.indexOf('-----BEGIN RSA PUBLIC KEY-----'));
  const adminUrl = lines.find((l) => l.startsWith('admin '))!.slice('admin '.length);
  return { child, lines, pem, adminUrl, exited };
}

async function admin(url: string, control: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${url}/${control}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return res.json();
}

describe('sandbox-dc CLI', () => {
  it('prints its addresses and key, serves the admin endpoint, exits 0 on SIGTERM and keeps sessions across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sandbox-dc-cli-'));
    dirs.push(dataDir);
    const port = await freePortPair();
    const first = await startCli(['--port', String(port), '--data-dir', dataDir]);
    expect(first.lines[0]).toBe(`listening dc=1 127.0.0.1:${port}`);
    expect(first.lines[1]).toBe(`listening dc=2 127.0.0.1:${port + 1}`);
    expect(first.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.pem).toMatch(/^-----BEGIN RSA PUBLIC KEY-----\n[\s\S]+-----END RSA PUBLIC KEY-----\n$/);

    await admin(first.adminUrl, 'createUser', { phone: '+15550009999', firstName: 'Cli' });
    const dcs = [
      { id: 1, host: '127.0.0.1', port },
      { id: 2, host: '127.0.0.1', port: port + 1 },
    ];
    const client = await sandboxClient({ dcs, publicKeyPem: first.pem });
    try {
      const me = await client.start({
        phone: '+15550009999',
        codeSentCallback: () => {},
        code: async () => ((await admin(first.adminUrl, 'lastCode', { phone: '+15550009999' })) as { code: string }).code,
      });
      expect(me.firstName).toBe('Cli');
      const session = await client.exportSession();
      await client.destroy();

      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);

      const second = await startCli(['--port', String(port), '--data-dir', dataDir]);
      expect(second.pem).toBe(first.pem);
      const again = await sandboxClient({ dcs, publicKeyPem: second.pem });
      try {
        await again.importSession(session);
        expect((await again.getMe()).id).toBe(me.id);
      } finally {
        await again.destroy();
      }
      second.child.kill('SIGINT');
      expect(await second.exited).toBe(0);
    } finally {
      await client.destroy().catch(() => {});
    }
  });

  it('comes back after SIGKILL (crash) right away, with the login made just before the crash', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sandbox-dc-cli-'));
    dirs.push(dataDir);
    const first = await startCli(['--port', '0', '--data-dir', dataDir]);
    const portOf = (s: Started, id: number) => Number(s.lines.find((l) => l.startsWith(`listening dc=${id} `))!.split(':').pop());
    const dcs = [
      { id: 1, host: '127.0.0.1', port: portOf(first, 1) },
      { id: 2, host: '127.0.0.1', port: portOf(first, 2) },
    ];
    const client = await sandboxClient({ dcs, publicKeyPem: first.pem });
    const me = await client.start({ phone: '+9996627777', code: '22222', codeSentCallback: () => {} });
    const session = await client.exportSession();
    await client.destroy();

    first.child.kill('SIGKILL'); // no chance to save anything at exit
    await first.exited;
    const second = await startCli(['--port', String(dcs[0]!.port), '--port2', String(dcs[1]!.port), '--data-dir', dataDir]);
    const again = await sandboxClient({ dcs, publicKeyPem: second.pem });
    try {
      await again.importSession(session);
      expect((await again.getMe()).id).toBe(me.id);
    } finally {
      await again.destroy();
    }
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('rejects bad arguments with usage and exit code 2', async () => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', CLI, '--port', 'abc'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(err).toContain('usage: sandbox-dc');
  });
});
