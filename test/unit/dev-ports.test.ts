/**
 * The ports tests hand to the processes they start: outside the kernel's ephemeral range (where an
 * outgoing connection can take one before the child binds it), each worker in its own slice, and a
 * port some listener holds is never handed out.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, freePorts, portIsFree } from '../../dev/ports.js';

const ephemeralStart = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

async function listenOn(port: number): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

/** The ports a fresh process with this VITEST_POOL_ID hands out first. */
function portsOfWorker(poolId: string, count: number): number[] {
  const script = `import { freePort } from './dev/ports.ts'; const out = []; for (let i = 0; i < ${count}; i++) out.push(await freePort()); console.log(JSON.stringify(out));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, VITEST_POOL_ID: poolId },
    encoding: 'utf8',
  });
  return JSON.parse(out) as number[];
}

describe('dev/ports', () => {
  it('hands out consecutive free ports below the ephemeral range, never the same one twice', async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const first = await freePorts(2);
      expect(first).toBeGreaterThanOrEqual(10_000);
      expect(first + 1).toBeLessThan(ephemeralStart);
      expect(await portIsFree(first)).toBe(true);
      expect(await portIsFree(first + 1)).toBe(true);
      expect(seen.has(first) || seen.has(first + 1)).toBe(false);
      seen.add(first).add(first + 1);
    }
  });

  it('skips a port a listener holds', async () => {
    // Hold the next 20 ports this process would try, then ask: the answer is past all of them.
    const probe = await freePort();
    const held: net.Server[] = [];
    try {
      for (let port = probe + 1; port <= probe + 20; port++) if (await portIsFree(port)) held.push(await listenOn(port));
      const next = await freePort();
      expect(held.map((s) => (s.address() as net.AddressInfo).port)).not.toContain(next);
      expect(await portIsFree(next)).toBe(true);
    } finally {
      await Promise.all(held.map((s) => new Promise((resolve) => s.close(resolve))));
    }
  });

  it('gives two test workers disjoint slices', { timeout: 30_000 }, () => {
    const one = portsOfWorker('1', 30);
    const two = portsOfWorker('2', 30);
    const [minOne, maxOne] = [Math.min(...one), Math.max(...one)];
    for (const port of two) expect(port < minOne || port > maxOne).toBe(true);
    expect(new Set([...one, ...two]).size).toBe(60);
  });
});
