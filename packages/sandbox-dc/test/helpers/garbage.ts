/** Hostile-connection helpers shared by the sandbox DC's hostile-input tests. */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export function le32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/**
 * Connects, writes `bytes` (in pieces), half-closes when asked, resolves when the server has closed the
 * socket (with how long after the connect that was); rejects when it is still open after 10 s.
 */
export function hit(port: number, bytes: Uint8Array, opts: { end?: boolean; pieces?: number } = {}): Promise<{ received: Buffer; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const received: Buffer[] = [];
    let connectedAt = performance.now();
    const socket: Socket = connect({ port, host: '127.0.0.1' }, () => {
      connectedAt = performance.now();
      const pieces = opts.pieces ?? 1;
      const size = Math.ceil(bytes.length / pieces);
      for (let i = 0; i < bytes.length; i += size) socket.write(bytes.subarray(i, i + size));
      if (opts.end) socket.end();
    });
    socket.on('data', (d) => received.push(d));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('server did not close the connection'));
    }, 10_000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(received), closedAfterMs: performance.now() - connectedAt });
    });
  });
}

/** The i-th garbage connection payload: five kinds of nonsense a DC must shrug off. */
export function garbage(i: number): Uint8Array {
  switch (i % 5) {
    case 0:
      return new Uint8Array(randomBytes(1 + (i % 700)));
    case 1: // intermediate frame with a random "auth key id" → -404
      return Buffer.concat([Buffer.from([0xee, 0xee, 0xee, 0xee]), le32(88), randomBytes(88)]);
    case 2: // truncated abridged frame, half-closed by the client
      return Buffer.concat([Buffer.from([0xef, 0x40]), randomBytes(20)]);
    case 3: // obfuscated-looking init followed by noise
      return Buffer.concat([Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), randomBytes(200)]);
    default: // full transport with a bad CRC
      return Buffer.concat([le32(24), le32(0), randomBytes(16)]);
  }
}

/** `count` garbage connections in batches of 250, starting at payload index `from`. */
export async function garbageConnections(port: number, from: number, count: number): Promise<void> {
  const batch = 250;
  for (let i = from; i < from + count; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, from + count - i) }, (_, j) => hit(port, garbage(i + j), { end: true, pieces: 1 + ((i + j) % 3) })),
    );
  }
}

/** heapUsed after forced garbage collections. */
export async function settledHeap(): Promise<number> {
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose_gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}
