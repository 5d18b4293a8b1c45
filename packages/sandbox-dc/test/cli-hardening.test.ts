/**
 * Issue 7, the standalone `sandbox-dc` as a real process: it exits when its data-directory lock is lost;
 * it refuses a data directory others can write and files planted as symlinks; its admin endpoint answers
 * only requests addressed to a loopback host (no DNS rebinding from a browser); and a flood of idle
 * connections beyond its open-file limit does not keep a real client from logging in.
 */
import { chmodSync, lstatSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sandboxClient } from '../src/testing/sandbox.js';
import { spawnCli, startCli, tempDir } from './helpers/cli-process.js';

/** Resolves with the exit code, or 'still running' after `ms`. */
const exitWithin = (exited: Promise<number | null>, ms: number) =>
  Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), ms))]);

describe('sandbox-dc CLI: its data-directory lock', () => {
  it('lock file deleted while running → exits non-zero within seconds, naming the lost lock, without the graceful stop', async () => {
    const dataDir = tempDir();
    const dc = await startCli(['--port', '0', '--data-dir', dataDir]);
    unlinkSync(join(dataDir, 'sandbox-dc.lock'));
    const code = await exitWithin(dc.exited, 10_000);
    expect(code, `stderr: ${dc.stderr()}`).toBe(1);
    expect(dc.stderr()).toMatch(/sandbox-dc: data directory lock lost: lock file .*sandbox-dc\.lock was removed; exiting so that two sandbox DCs never share one data directory/);
    expect(dc.stdout()).not.toContain('stopped');
  });
});

describe('sandbox-dc CLI: a data directory others control', () => {
  it('--data-dir of mode 1777 → exit 2 with a clear message; the mode is left alone', async () => {
    const dataDir = tempDir();
    chmodSync(dataDir, 0o1777);
    const cli = spawnCli(['--port', '0', '--data-dir', dataDir]);
    expect(await exitWithin(cli.exited, 15_000)).toBe(2);
    expect(cli.stderr()).toContain(`data directory ${dataDir} is writable by others (mode 01777); refusing to use it`);
    expect(lstatSync(dataDir).mode & 0o7777).toBe(0o1777);
  });

  for (const name of ['state.json', 'auth-keys.jsonl', 'rsa_key.pem']) {
    it(`${name} planted as a symlink → exit 2, the link's target untouched`, async () => {
      const dataDir = tempDir();
      const elsewhere = join(tempDir(), 'target');
      writeFileSync(elsewhere, '', { mode: 0o644 });
      symlinkSync(elsewhere, join(dataDir, name));
      const cli = spawnCli(['--port', '0', '--data-dir', dataDir]);
      expect(await exitWithin(cli.exited, 15_000), cli.stderr()).toBe(2);
      expect(cli.stderr()).toContain(`${name} is a symlink; refusing to follow it`);
      expect(readFileSync(elsewhere, 'utf8')).toBe('');
      expect(lstatSync(elsewhere).mode & 0o777).toBe(0o644);
    });
  }
});

/** GET `path` from the admin endpoint with an explicit Host header (undefined: none at all). */
function getWithHost(adminUrl: string, path: string, host: string | undefined): Promise<{ status: number; body: string }> {
  const url = new URL(adminUrl);
  return new Promise((resolve, reject) => {
    const headers = host === undefined ? {} : { host };
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET', headers, setHost: host !== undefined }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('sandbox-dc CLI: the admin endpoint and DNS rebinding', () => {
  it('answers only requests addressed to a loopback host; any other Host is refused with 403 and no data', async () => {
    const dc = await startCli(['--port', '0']);
    const port = new URL(dc.adminUrl).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, '127.0.0.1', 'localhost']) {
      const res = await getWithHost(dc.adminUrl, '/listUsers', host);
      expect(res.status, host).toBe(200);
    }
    for (const host of [`attacker.example:${port}`, `127.0.0.1.attacker.example:${port}`, 'localhost.attacker.example', `10.0.0.1:${port}`, `127.0.0.1:${Number(port) + 1}`, ' ']) {
      const res = await getWithHost(dc.adminUrl, '/lastCode?phone=%2B9996621234', host);
      expect(res.status, host).toBe(403);
      expect(JSON.parse(res.body)).toEqual({ error: expect.stringMatching(/only answers requests addressed to 127\.0\.0\.1, localhost or \[::1\]/) });
    }
    // No Host at all (HTTP/1.1): refused too.
    expect((await getWithHost(dc.adminUrl, '/lastCode?phone=%2B9996621234', undefined)).status).toBe(400);
  });
});

describe('sandbox-dc CLI: a flood of idle connections', () => {
  it('beyond its open-file limit (ulimit -n 256, 2 × 400 idle connections): a real client still logs in', async () => {
    const dc = await startCli(['--port', '0', '--data-dir', tempDir()], { fileLimit: 256 });
    const sockets: Socket[] = [];
    let closedByServer = 0;
    try {
      for (const { port } of dc.dcs) {
        for (let i = 0; i < 400; i++) {
          const s = connect({ port, host: '127.0.0.1' });
          s.on('error', () => undefined);
          s.on('close', () => closedByServer++);
          sockets.push(s);
        }
      }
      await Promise.all(sockets.map((s) => new Promise((resolve) => (s.connecting ? s.once('connect', resolve).once('close', resolve) : resolve(undefined)))));
      const client = await sandboxClient({ dcs: dc.dcs, publicKeyPem: dc.pem });
      try {
        const me = await Promise.race([
          client.start({ phone: '+9996621234', code: '22222', codeSentCallback: () => {} }),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no login within 30 s during the flood')), 30_000)),
        ]);
        expect(me.phoneNumber).toBe('9996621234');
        expect((await client.getMe()).id).toBe(me.id);
      } finally {
        await client.destroy();
      }
      expect(closedByServer).toBeGreaterThan(0);
      expect(dc.child.exitCode).toBeNull();
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});
