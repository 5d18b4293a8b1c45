/**
 * Tells a client's owner when Telegram answers one of mtcute's pings on that client's connections. mtcute
 * pings every connection about once a minute anyway; a pong proves the connection to Telegram works, so the
 * account's idle health probe (a getMe: a request, its answer, mtcute's acknowledgement and the pings around
 * them, ~1.7 ms of CPU with the garbage it leaves) is needed only for an account whose connection has not
 * answered for a probe interval. A thousand idle accounts probed every 100 s cost more CPU than everything
 * else they do.
 *
 * mtcute has no event for it: this hooks SessionConnection's private `_onPong` (as idle-ping.ts does),
 * checks at install that it exists, and finds the owner by the transport the client was made with — every
 * connection of a client shares its transport object (`params.transport`). test/unit/pong-watch.test.ts
 * proves it against the sandbox DC and fails if an mtcute update changes what is hooked.
 */
import { SessionConnection } from '@mtcute/core';

interface ConnectionInternals {
  _onPong(message: unknown): void;
  params: { transport?: object };
}

const watchers = new WeakMap<object, () => void>();
let installed = false;

/** Calls `onPong` whenever a pong arrives on a connection made with `transport` (replacing an earlier watcher). */
export function watchPongs(transport: object, onPong: () => void): void {
  install();
  watchers.set(transport, onPong);
}

function install(): void {
  if (installed) return;
  const proto = SessionConnection.prototype as unknown as ConnectionInternals;
  if (typeof proto._onPong !== 'function') {
    throw new Error('mtcute SessionConnection no longer has _onPong: src/telegram/pong-watch.ts must be updated for this mtcute version');
  }
  const onPong = proto._onPong;
  proto._onPong = function (this: ConnectionInternals, message: unknown) {
    onPong.call(this, message);
    const transport = this.params.transport;
    if (transport) watchers.get(transport)?.();
  };
  installed = true;
}
