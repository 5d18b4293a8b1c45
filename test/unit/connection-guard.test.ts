/** The HTTP connection cap's shedding order, on a real node:http server and real sockets. */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { guardConnections, type ConnectionGuard } from '../../src/http/connection-guard.js';

let server: http.Server | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server whose handler trusts requests carrying `x-token: ok` and holds `/slow` open until released. */
async function startServer(
  maxConnections: number,
): Promise<{ port: number; guard: ConnectionGuard; warnings: string[]; requests: () => number; release: () => void }> {
  const warnings: string[] = [];
  const held: http.ServerResponse[] = [];
  let requests = 0;
  server = http.createServer((req, res) => {
    requests++;
    if (req.headers['x-token'] === 'ok') guard.trust(req.socket);
    if (req.url === '/slow') held.push(res);
    else res.end('ok');
  });
  const guard = guardConnections(server, { maxConnections, log: { warn: (_o, msg) => void warnings.push(msg) } });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    guard,
    warnings,
    requests: () => requests,
    release: () => held.splice(0).forEach((r) => r.end('done')),
  };
}

/** A connected socket that records whether the server closed it. */
async function open(port: number, request?: string): Promise<{ socket: net.Socket; closed: () => boolean; received: () => string }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  sockets.push(socket);
  let closed = false;
  let text = '';
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  await new Promise((resolve) => socket.once('connect', resolve));
  if (request) socket.write(request);
  return { socket, closed: () => closed, received: () => text };
}

const GET = (path: string, token?: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n${token ? `x-token: ${token}\r\n` : ''}\r\n`;

describe('connection guard', () => {
  it('at the cap a newcomer replaces the oldest idle connection without a valid token; trusted and busy ones stay', async () => {
    const { port, guard, warnings, requests, release } = await startServer(4);
    const trusted = await open(port, GET('/', 'ok')); // a client of the API, idle after its answer
    const busy = await open(port, GET('/slow')); // a request in flight, no token
    const idle1 = await open(port);
    const idle2 = await open(port);
    await vi.waitFor(() => expect([guard.open, requests()]).toEqual([4, 2]));
    const newcomer = await open(port);
    await vi.waitFor(() => expect(idle1.closed()).toBe(true));
    expect([trusted.closed(), busy.closed(), idle2.closed(), newcomer.closed()]).toEqual([false, false, false, false]);
    expect(warnings).toEqual(['HTTP connection limit reached: closing idle connections that never presented a valid token (HTTP_MAX_CONNECTIONS)']);
    release();
  });

  it('when only trusted or busy connections are left, the newcomer is the one closed', async () => {
    const { port, guard, requests, release } = await startServer(2);
    const trusted = await open(port, GET('/', 'ok'));
    const busy = await open(port, GET('/slow'));
    await vi.waitFor(() => expect([guard.open, requests()]).toEqual([2, 2]));
    const newcomer = await open(port);
    await vi.waitFor(() => expect(newcomer.closed()).toBe(true));
    expect([trusted.closed(), busy.closed()]).toEqual([false, false]);
    release();
  });

  it('a burst far over the cap keeps the count at the cap', async () => {
    const { port, guard } = await startServer(10);
    const burst = await Promise.all(Array.from({ length: 100 }, () => open(port)));
    await vi.waitFor(() => expect(burst.filter((c) => !c.closed())).toHaveLength(10));
    expect(guard.open).toBe(10);
  });

  it('closing: a response not started yet ends its connection (Connection: close); one already answered and idle is left to close()', async () => {
    const { port, guard, requests, release } = await startServer(10);
    const answered = await open(port, GET('/'));
    const inFlight = await open(port, GET('/slow'));
    await vi.waitFor(() => expect(requests()).toBe(2));
    await vi.waitFor(() => expect(answered.received()).toMatch(/\r\n\r\nok$/));
    guard.closeAfterResponses();
    release();
    await vi.waitFor(() => expect(inFlight.closed()).toBe(true));
    expect(inFlight.received()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(inFlight.received()).toMatch(/\r\nConnection: close\r\n/i);
    expect(inFlight.received()).toMatch(/\r\n\r\ndone$/);
    expect(answered.received()).toMatch(/\r\nConnection: keep-alive\r\n/i);
    expect(answered.closed()).toBe(false);
  });
});
