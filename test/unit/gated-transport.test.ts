/**
 * The cluster's gate on mtcute's TCP transport: a connection opens only while the gate is open, and once it
 * closes nothing more is written on a connection already open — the write is refused and the connection
 * cut, even before the lease watchdog runs (a process resumed after SIGSTOP handles its I/O first).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionGateClosed, GatedTransport } from '../../src/telegram/gated-transport.js';

const servers: net.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A TCP server on 127.0.0.1 that keeps what it receives and says when the connection ends. */
async function receiver() {
  let received = Buffer.alloc(0);
  let ended!: () => void;
  const closed = new Promise<void>((resolve) => (ended = resolve));
  const server = net.createServer((socket) => {
    socket.on('data', (chunk) => (received = Buffer.concat([received, chunk])));
    socket.on('close', ended);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { port, closed, received: () => received };
}

async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

describe('GatedTransport', () => {
  it('refuses to connect while the gate is closed', async () => {
    const { port } = await receiver();
    const transport = new GatedTransport(() => false);
    await expect(transport.connect({ id: 2, ipAddress: '127.0.0.1', port })).rejects.toBeInstanceOf(ConnectionGateClosed);
    expect(transport.openCount).toBe(0);
  });

  it('writes while the gate is open; once it closes, a write is refused and the connection cut, nothing sent', async () => {
    const server = await receiver();
    let open = true;
    const transport = new GatedTransport(() => open);
    const connection = await transport.connect({ id: 2, ipAddress: '127.0.0.1', port: server.port });
    expect(transport.openCount).toBe(1);
    await connection.write(new Uint8Array([1, 2, 3]));
    await eventually(() => server.received().length === 3);

    open = false; // the lease ran out; the watchdog has not cut anything yet
    await expect(connection.write(new Uint8Array([4, 5, 6]))).rejects.toBeInstanceOf(ConnectionGateClosed);
    expect(transport.openCount).toBe(0);
    await server.closed;
    expect([...server.received()]).toEqual([1, 2, 3]);
  });
});
