/**
 * Short-lived connections for a cluster: each MTProto connection pings Telegram every `pingIntervalMs` and
 * asks, with ping_delay_disconnect, to be disconnected `disconnectDelaySeconds` after a ping not followed
 * by the next one. So an instance that freezes (SIGSTOP, a stalled VM) has its connections closed by
 * Telegram itself within that delay — before its lease can expire and another instance connects with the
 * same auth key (two live connections for one key is how keys end up AUTH_KEY_DUPLICATED).
 *
 * mtcute 0.30 has no option for either: an idle connection pings every 60–65 s and asks for 137–142 s. Its
 * SessionConnection computes both in small methods (`_pingMustDelay`; `_pingDisconnectDelay`, whose value
 * + 2 s is sent while `_doFlush` writes the ping, and which is also its own pong timeout); this file wraps
 * them on the class's prototype, once per process: never longer than ours, and the short delay only in
 * what is sent.
 * The class is exported by mtcute's entry point though not by its types, so it is taken from there: the
 * same module instance mtcute's clients use, also in the service's bundle (scripts/bundle.mjs), where a
 * file of node_modules loaded by path would be a second copy that no client uses. A change of these
 * internals fails loudly at start-up, and test/cluster/failover.test.ts proves the effect against the
 * sandbox DC (its referee counts a moment of two owners if a frozen owner's connection stays open).
 */

export interface KeepaliveOptions {
  pingIntervalMs: number;
  /** What ping_delay_disconnect asks for (whole seconds, at least 3). */
  disconnectDelaySeconds: number;
}

interface SessionConnectionPrototype {
  _pingMustDelay(this: unknown): number;
  _pingDisconnectDelay(this: unknown): number;
  _doFlush(this: unknown, ...args: unknown[]): unknown;
}

/** The seconds mtcute adds to `_pingDisconnectDelay()` when it sends ping_delay_disconnect. */
const MTCUTE_DELAY_PADDING_MS = 2000;

let installed: KeepaliveOptions | undefined;

export async function installKeepalive(opts: KeepaliveOptions): Promise<void> {
  if (installed) {
    if (installed.pingIntervalMs !== opts.pingIntervalMs || installed.disconnectDelaySeconds !== opts.disconnectDelaySeconds) {
      throw new Error('installKeepalive: already installed with other values');
    }
    return;
  }
  if (opts.disconnectDelaySeconds < 3) throw new RangeError('disconnectDelaySeconds must be at least 3');
  const module = (await import('@mtcute/core')) as unknown as { SessionConnection?: { prototype: SessionConnectionPrototype } };
  const proto = module.SessionConnection?.prototype;
  if (!proto || typeof proto._pingMustDelay !== 'function' || typeof proto._pingDisconnectDelay !== 'function' || typeof proto._doFlush !== 'function') {
    throw new Error('mtcute internals changed: SessionConnection ping methods not found (the cluster needs them; see src/telegram/keepalive.ts)');
  }
  const mustDelay = proto._pingMustDelay;
  const disconnectDelay = proto._pingDisconnectDelay;
  const doFlush = proto._doFlush;
  const ourDelayMs = opts.disconnectDelaySeconds * 1000 - MTCUTE_DELAY_PADDING_MS;
  // The short delay is only what is *sent* (while a flush writes the ping); mtcute's own "no pong, reset
  // the session" timeout keeps its value, so a slow pong on a busy machine is not a reconnect.
  let writingPing = false;
  proto._pingMustDelay = function pingMustDelay(this: unknown): number {
    // mtcute pings once `performance.now() - lastPingTime` passes this, lastPingTime starting at 0: in a
    // process younger than the interval, a new connection would not ping (nor ask for a disconnect) until
    // then — frozen in that window (SIGSTOP right after a restart took the accounts back), it stayed
    // connected past the take-over. Until then, every flush may ping.
    if (performance.now() < opts.pingIntervalMs) return 0;
    return Math.min(mustDelay.call(this), opts.pingIntervalMs);
  };
  proto._pingDisconnectDelay = function pingDisconnectDelay(this: unknown): number {
    const theirs = disconnectDelay.call(this);
    return writingPing ? Math.min(theirs, ourDelayMs) : theirs;
  };
  proto._doFlush = function flush(this: unknown, ...args: unknown[]): unknown {
    writingPing = true;
    try {
      return doFlush.apply(this, args);
    } finally {
      writingPing = false;
    }
  };
  installed = { ...opts };
}

/** The keepalive a lease of `leaseTtlMs` needs (see ARCHITECTURE.md, cluster/: the timeline of a frozen owner). */
export function keepaliveForLease(leaseTtlMs: number): KeepaliveOptions {
  return {
    pingIntervalMs: Math.max(500, Math.round(leaseTtlMs / 5)),
    disconnectDelaySeconds: Math.max(3, Math.floor((leaseTtlMs * 2) / 3 / 1000)),
  };
}
