/** `sandbox-dc` from the command line: its output, the admin endpoint, SIGTERM, and a restart on the same data. */
import { describe, expect, it } from 'vitest';
import { sandboxClient } from '../src/testing/sandbox.js';
import { admin, freePortPair, spawnCli, startCli, tempDir, type Started } from './helpers/cli-process.js';

describe('sandbox-dc CLI', () => {
  it('prints its addresses and key, serves the admin endpoint, exits 0 on SIGTERM and keeps sessions across a restart', async () => {
    const dataDir = tempDir();
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
    const dataDir = tempDir();
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
    const cli = spawnCli(['--port', 'abc']);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr()).toContain('usage: sandbox-dc');
  });
});
