/**
 * Sandbox DC figures: key exchanges per second and complete login flows per second with 200
 * concurrent clients, beside a bare TCP connect + round trip to an echo server measured in the same run.
 */
import net from 'node:net';
import { RawMtprotoClient, sandboxClient } from '@telegram-service/sandbox-dc/testing';
import { dc2Of, startDcProcess } from './processes.js';
import { fmt, percentile, pool, ratio, row, section } from './report.js';

const CONCURRENCY = 200;

async function bareEchoRoundTrips(total: number): Promise<number> {
  const server = net.createServer((s) => s.on('data', (d) => s.write(d)).on('error', () => undefined));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const res = await pool(total, CONCURRENCY, async () => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.once('connect', () => sock.write(Buffer.alloc(64)));
      sock.once('data', () => resolve());
    });
    sock.destroy();
  });
  await new Promise((r) => server.close(r));
  return res.perSecond;
}

export async function benchSandboxDc(): Promise<void> {
  section('Sandbox DC (200 concurrent clients, 127.0.0.1)');
  // The DC runs in its own process (one core), the clients in this one (the other core).
  const dc = await startDcProcess();
  try {
    const dc2 = dc2Of(dc);
    const baseline = await bareEchoRoundTrips(2_000);

    const kx = await pool(1_000, CONCURRENCY, async () => {
      const c = await RawMtprotoClient.connect(dc2.port, 'intermediate');
      try {
        await c.exchangeKey(dc.publicKeyPem, { dc: 2 });
      } finally {
        c.close();
      }
    });
    row({
      metric: 'key exchanges / s',
      value: fmt(kx.perSecond),
      baseline: `${fmt(baseline)} conn+rtt/s`,
      ratio: ratio(kx.perSecond, baseline),
      note: `${kx.durations.length} ok, ${kx.errors.length} errors, p50 ${fmt(percentile(kx.durations, 50))} ms, p99 ${fmt(percentile(kx.durations, 99))} ms`,
    });

    // Complete logins: key exchange, initConnection, sendCode, signIn, getMe — with unmodified mtcute.
    const logins = await pool(400, CONCURRENCY, async (i) => {
      const client = await sandboxClient(dc);
      try {
        // Test numbers 99966 2 YYYY: the code is 22222 and the account is created on first sign-in.
        await client.start({ phone: `+999662${String(1000 + i).padStart(4, '0')}`, code: () => '22222', codeSentCallback: () => {} });
        await client.getMe();
      } finally {
        await client.destroy();
      }
    });
    row({
      metric: 'complete login flows / s (mtcute)',
      value: fmt(logins.perSecond),
      baseline: `${fmt(kx.perSecond)} kx/s`,
      ratio: ratio(logins.perSecond, kx.perSecond),
      note: `${logins.durations.length} ok, ${logins.errors.length} errors, p50 ${fmt(percentile(logins.durations, 50))} ms, p99 ${fmt(percentile(logins.durations, 99))} ms`,
    });
    if (kx.errors.length || logins.errors.length) {
      console.log(`  errors: ${[...new Set([...kx.errors, ...logins.errors])].slice(0, 5).join(' | ')}`);
      process.exitCode = 1;
    }
  } finally {
    await dc.stop();
  }
}
