/**
 * A cap on the HTTP server's connections that sheds a flood first. Every connection is a file
 * descriptor; without a cap, anyone on the machine can open more than the process may (e.g. 20,000 idle
 * sockets), and then every open() fails — the service's own session writes and MTProto connection too.
 *
 * At the cap a newcomer takes the place of the oldest connection that is idle (no request in flight)
 * and never carried a request with a valid token. Connections of the API's own clients (a valid token
 * seen) and requests in flight are never cut for a newcomer; when only those are left, the newcomer is
 * closed instead. Node's own `server.maxConnections` cannot do this: it refuses newcomers, so a flood
 * that got in first would lock the clients out.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionGuardLog {
  warn(obj: object, msg: string): void;
}

export interface ConnectionGuard {
  /** The connection carried a request with a valid token: never shed for a newcomer. */
  trust(socket: Socket): void;
  /** Connections open right now. */
  readonly open: number;
  /** Responses not yet started end their connection (`Connection: close`): the server is closing. */
  closeAfterResponses(): void;
}

interface Tracked {
  trusted: boolean;
}

/**
 * The response a connection is answering right now, if any: Node's own record of it (`_httpMessage`, set
 * while a response holds the socket). Reading it when needed costs requests nothing; counting requests in
 * and out cost every request two listeners.
 */
function responseOn(socket: Socket): ServerResponse | null {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? null;
}

/** How often (at most) the cap being reached is logged. */
const LOG_EVERY_MS = 60_000;

export function guardConnections(server: Server, opts: { maxConnections: number; log: ConnectionGuardLog; now?: () => number }): ConnectionGuard {
  const now = opts.now ?? Date.now;
  // Insertion order is age: the first idle untrusted one found is the oldest.
  const sockets = new Map<Socket, Tracked>();
  let shedSinceLog = 0;
  let lastLogAt = -Infinity;

  const shed = (socket: Socket): void => {
    sockets.delete(socket); // at once: its 'close' comes later, and a burst must not pick it again
    socket.destroy();
    shedSinceLog++;
    if (now() - lastLogAt >= LOG_EVERY_MS) {
      opts.log.warn(
        { maxConnections: opts.maxConnections, closed: shedSinceLog },
        'HTTP connection limit reached: closing idle connections that never presented a valid token (HTTP_MAX_CONNECTIONS)',
      );
      lastLogAt = now();
      shedSinceLog = 0;
    }
  };

  server.on('connection', (socket: Socket) => {
    sockets.set(socket, { trusted: false });
    socket.once('close', () => sockets.delete(socket));
    if (sockets.size <= opts.maxConnections) return;
    for (const [candidate, state] of sockets) {
      if (candidate !== socket && !state.trusted && !responseOn(candidate)) {
        shed(candidate);
        return;
      }
    }
    shed(socket);
  });

  return {
    trust(socket) {
      const state = sockets.get(socket);
      if (state) state.trusted = true;
    },
    get open() {
      return sockets.size;
    },
    closeAfterResponses() {
      for (const socket of sockets.keys()) {
        const response = responseOn(socket);
        if (response && !response.headersSent) response.shouldKeepAlive = false;
      }
    },
  };
}
