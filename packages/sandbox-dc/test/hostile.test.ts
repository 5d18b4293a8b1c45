/** Hostile input: the DC closes or answers as Telegram does, never crashes, and its memory stays bounded. */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import Long from 'long';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { garbageConnections, hit, le32, settledHeap } from './helpers/garbage.js';
import { RawMtprotoClient, type RawTransport } from '../src/testing/raw-mtproto-client.js';
import { startTestDc, type TestDc } from './core-fixtures.js';

// Two DCs: `dc` waits 10 minutes for a silent connection, so a connection it closes within `hit`'s 10 s was
// closed for what it sent, never by the idle timeout; `quick` times silent connections out after 2 s.
const QUICK_IDLE_MS = 2_000;
let dc: TestDc;
let quick: TestDc;
beforeAll(async () => {
  dc = await startTestDc({ limits: { idleTimeoutMs: 600_000 }, log: () => undefined });
  quick = await startTestDc({ limits: { idleTimeoutMs: QUICK_IDLE_MS }, log: () => undefined });
});
afterAll(async () => {
  await dc.server.close();
  await quick.server.close();
});

async function stillServes(transport: RawTransport = 'intermediate', server: TestDc = dc): Promise<void> {
  const c = await RawMtprotoClient.connect(server.server.port, transport);
  await c.exchangeKey(server.rsa.publicKeyPem);
  const config = await c.callWithLayer({ _: 'help.getConfig' });
  expect(config._).toBe('config');
  c.close();
}


describe('hostile input', () => {
  it('absurd lengths close the connection at once', async () => {
    const cases = [
      Buffer.concat([Buffer.from([0xee, 0xee, 0xee, 0xee]), le32(0x7fffffff)]),
      Buffer.concat([Buffer.from([0xdd, 0xdd, 0xdd, 0xdd]), le32(64 * 1024 * 1024)]),
      Buffer.from([0xef, 0x7f, 0xff, 0xff, 0xff]),
      Buffer.concat([le32(0x7ffffff0), le32(0)]), // full transport, 2 GB
      Buffer.concat([Buffer.from([0xee, 0xee, 0xee, 0xee]), le32(0)]),
    ];
    for (const bytes of cases) await hit(dc.server.port, bytes);
    await stillServes();
  });

  it('truncated frames and silent connections are closed by the idle timeout', async () => {
    const waits = await Promise.all([
      hit(quick.server.port, Buffer.concat([Buffer.from([0xee, 0xee, 0xee, 0xee]), le32(1000), Buffer.alloc(10)])),
      hit(quick.server.port, Buffer.from([0xee, 0xee])),
      hit(quick.server.port, new Uint8Array(0)),
    ]);
    // Not before the idle timeout (a timer never fires early; the slack covers clock granularity only).
    for (const { closedAfterMs } of waits) expect(closedAfterMs).toBeGreaterThanOrEqual(QUICK_IDLE_MS - 50);
    await stillServes('intermediate', quick);
  });

  it('HTTP is refused at once; random bytes are refused or timed out; the server keeps serving on every transport', async () => {
    await hit(dc.server.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    // Random bytes that look like the start of a frame wait for the rest: the quick DC's idle timeout ends those.
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => hit(quick.server.port, new Uint8Array(randomBytes(1 + (i * 37) % 500)), { end: i % 2 === 0 })),
    );
    for (const t of ['abridged', 'full', 'obfuscated-padded'] as RawTransport[]) {
      await stillServes(t);
      await stillServes(t, quick);
    }
  });

  it('unknown key ids and undecryptable messages get -404; frames shorter than a key id are dropped', async () => {
    const unknownKey = new Uint8Array(randomBytes(8 + 16 + 64));
    const r1 = await hit(dc.server.port, Buffer.concat([Buffer.from([0xee, 0xee, 0xee, 0xee]), le32(unknownKey.length), unknownKey]));
    expect(r1.received.subarray(4).readInt32LE(0)).toBe(-404);

    // A real key id with a forged body.
    const c = await RawMtprotoClient.connect(dc.server.port);
    await c.exchangeKey(dc.rsa.publicKeyPem);
    const keyId = [...dc.store.keys.values()].find((k) => Buffer.from(k.key).equals(Buffer.from(c.authKey!)))!.id;
    const forged = Buffer.concat([Buffer.from(keyId, 'hex'), randomBytes(16 + 64)]);
    c.sendFrame(forged);
    await c.waitClosed();
    expect(c.transportErrors).toContain(404);

    await hit(dc.server.port, Buffer.concat([Buffer.from([0xee, 0xee, 0xee, 0xee]), le32(4), Buffer.alloc(4)]));
    await stillServes();
  });

  it('plain messages out of order or garbled: -404 and close', async () => {
    for (const body of [
      Buffer.concat([Buffer.alloc(8), Buffer.alloc(8), le32(200), Buffer.alloc(8)]), // length beyond the frame
      Buffer.concat([Buffer.alloc(8), Buffer.alloc(8), le32(8), le32(0xf5045f1f), Buffer.alloc(4)]), // set_client_DH_params first
      Buffer.concat([Buffer.alloc(8), Buffer.alloc(8), le32(8), le32(0x12345678), Buffer.alloc(4)]), // unknown constructor
    ]) {
      const r = await hit(dc.server.port, Buffer.concat([Buffer.from([0xee, 0xee, 0xee, 0xee]), le32(body.length), body]));
      expect(r.received.subarray(4).readInt32LE(0)).toBe(-404);
    }
    await stillServes();
  });

  it('a replayed encrypted packet is not executed twice; a garbage container closes the connection', async () => {
    const c = await RawMtprotoClient.connect(dc.server.port);
    await c.exchangeKey(dc.rsa.publicKeyPem);
    await c.callWithLayer({ _: 'help.getNearestDc' });
    const before = dc.rpc.calls.length;
    const msgId = c.nextMsgId();
    for (let i = 0; i < 5; i++) c.send({ _: 'help.getNearestDc' }, { msgId, seqNo: 7 });
    c.send({ _: 'mt_ping', pingId: Long.fromNumber(77) });
    await c.waitFor((m) => m.obj?._ === 'mt_pong' && m.obj.pingId.eq(77));
    expect(dc.rpc.calls.length).toBe(before + 1);

    const container = Buffer.concat([le32(0x73f1f8dc), le32(1000)]);
    c.sendEncrypted(new Uint8Array(container), { contentRelated: false });
    await c.waitClosed();
    await stillServes();
  });

  it('maxConnections: when every connection has proven an auth key, one more is answered -429 and closed; the rest keep working', async () => {
    const small = await startTestDc({ limits: { maxConnections: 3, idleTimeoutMs: 30_000 }, log: () => undefined });
    try {
      const proven = await Promise.all([0, 1, 2].map(() => RawMtprotoClient.connect(small.server.port)));
      for (const c of proven) {
        await c.exchangeKey(small.rsa.publicKeyPem);
        c.send({ _: 'mt_ping', pingId: Long.fromNumber(1) });
        await c.waitForObject('mt_pong');
      }
      const extra = await RawMtprotoClient.connect(small.server.port, 'padded');
      await expect(extra.exchangeKey(small.rsa.publicKeyPem)).rejects.toThrow(/transport error 429/);
      await extra.waitClosed();
      proven[0]!.close();
      await proven[0]!.waitClosed();
      while (small.server.openConnections > 2) await new Promise((r) => setTimeout(r, 10));
      const c = await RawMtprotoClient.connect(small.server.port);
      await c.exchangeKey(small.rsa.publicKeyPem);
      c.close();
      for (const p of proven.slice(1)) {
        p.send({ _: 'mt_ping', pingId: Long.fromNumber(2) });
        await p.waitFor((m) => m.obj?._ === 'mt_pong' && (m.obj.pingId as Long).eq(2));
        p.close();
      }
    } finally {
      await small.server.close();
    }
  });

  it('maxConnections: at the limit, a newcomer takes the place of the oldest connection that has not proven a key (a flood is shed first)', async () => {
    const small = await startTestDc({ limits: { maxConnections: 3, idleTimeoutMs: 30_000 }, log: () => undefined });
    try {
      const client = await RawMtprotoClient.connect(small.server.port);
      await client.exchangeKey(small.rsa.publicKeyPem);
      client.send({ _: 'mt_ping', pingId: Long.fromNumber(1) });
      await client.waitForObject('mt_pong');
      // Ten silent connections against a limit of 3: each newcomer closes the oldest silent one.
      const flood: Socket[] = [];
      const closed: boolean[] = [];
      for (let i = 0; i < 10; i++) {
        const s = connect({ port: small.server.port, host: '127.0.0.1' });
        s.on('error', () => undefined);
        closed.push(false);
        s.on('close', () => (closed[i] = true));
        flood.push(s);
        await new Promise((r) => s.once('connect', r));
      }
      await vi.waitFor(() => expect(closed.filter(Boolean)).toHaveLength(8), { timeout: 5_000 });
      expect(closed.slice(8)).toEqual([false, false]); // the newest two hold the free places
      expect(small.server.openConnections).toBe(3);
      // The client with a working session kept its connection all along.
      client.send({ _: 'mt_ping', pingId: Long.fromNumber(2) });
      await client.waitFor((m) => m.obj?._ === 'mt_pong' && (m.obj.pingId as Long).eq(2));
      client.close();
      flood.forEach((s) => s.destroy());
    } finally {
      await small.server.close();
    }
  });

  it('partial frames are bounded server-wide: the connection that would exceed the budget is closed', async () => {
    const tight = await startTestDc({ limits: { maxReceiveBufferBytes: 300_000, idleTimeoutMs: 30_000 }, log: () => undefined });
    try {
      const partial = (): Buffer => Buffer.concat([Buffer.from([0xee, 0xee, 0xee, 0xee]), le32(500_000), randomBytes(120_000)]);
      const sockets: Socket[] = [];
      const closed: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        const s = connect({ port: tight.server.port, host: '127.0.0.1' });
        s.on('error', () => undefined);
        s.resume();
        const idx = i;
        closed.push(false);
        s.on('close', () => (closed[idx] = true));
        await new Promise<void>((resolve) => s.write(partial(), () => resolve()));
        sockets.push(s);
      }
      while (!closed[2]) await new Promise((r) => setTimeout(r, 20));
      expect(closed.slice(0, 2)).toEqual([false, false]);
      sockets[0].destroy();
      // Budget released: a new client works.
      const c = await RawMtprotoClient.connect(tight.server.port);
      await c.exchangeKey(tight.rsa.publicKeyPem);
      c.close();
      sockets.forEach((s) => s.destroy());
    } finally {
      await tight.server.close();
    }
  });

  it('10,000 garbage connections leave the DC serving key exchanges, with no connections left and flat memory', async () => {
    await garbageConnections(dc.server.port, 0, 2000); // warm up: JIT, pools, buffers, the key exchange's lazily built parts
    await stillServes();
    const baseline = await settledHeap();
    await garbageConnections(dc.server.port, 1000, 10_000);
    await stillServes();
    expect(dc.server.openConnections).toBeLessThanOrEqual(1);
    const after = await settledHeap();
    console.log(`heap growth after 10,000 garbage connections: ${((after - baseline) / 1024).toFixed(0)} KiB`);
    // Flat: 10,000 connections retained would be tens of MB; allow noise.
    expect(after - baseline).toBeLessThan(4 * 1024 * 1024);
  }, 180_000);
});
