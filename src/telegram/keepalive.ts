/**
 * Short-lived connections for a cluster: each MTProto connection pings Telegram every `pingIntervalMs` and
 * asks, with ping_delay_disconnect, to be disconnected `disconnectDelaySeconds` after a ping not followed
 * by the next one. So an instance that freezes (SIGSTOP, a stalled VM) has its connections closed by
 * Telegram itself within that delay — before its lease can expire and another instance connects with the
 * same auth key (two live connections for one key is how keys end up AUTH_KEY_DUPLICATED).
 *
 * mtcute 0.30 has no option for either: an idle connection pings every 60–65 s and asks for 137–142 s. Its
 * SessionConnection computes both in two small methods (`_pingMustDelay`, `_pingDisconnectDelay`; the
 * delay it sends is the latter in seconds + 2); this file replaces them on the class's prototype, once per
 * process, with the same values while a request is in flight (mtcute's own, shorter) and ours while idle.
 * The class is not exported, so it is loaded from mtcute's own file next to its entry point — the same
 * module instance mtcute uses. A change of these internals fails loudly at start-up, and
 * test/cluster/keepalive.test.ts proves the effect against the sandbox DC.
 */

export interface KeepaliveOptions {
  pingIntervalMs: number;
  /** What ping_delay_disconnect asks for (whole seconds, at least 3). */
  disconnectDelaySeconds: number;
}

interface SessionConnectionPrototype {
  _pingMustDelay(this: unknown): number;
  _pingDisconnectDelay(this: unknown): number;
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
  const entry = import.meta.resolve('@mtcute/core');
  const module = (await import(new URL('./network/session-connection.js', entry).href)) as { SessionConnection?: { prototype: SessionConnectionPrototype } };
  const proto = module.SessionConnection?.prototype;
  if (!proto || typeof proto._pingMustDelay !== 'function' || typeof proto._pingDisconnectDelay !== 'function') {
    throw new Error('mtcute internals changed: SessionConnection ping methods not found (the cluster needs them; see src/telegram/keepalive.ts)');
  }
  const mustDelay = proto._pingMustDelay;
  const disconnectDelay = proto._pingDisconnectDelay;
  const ourDelayMs = opts.disconnectDelaySeconds * 1000 - MTCUTE_DELAY_PADDING_MS;
  proto._pingMustDelay = function pingMustDelay(this: unknown): number {
    return Math.min(mustDelay.call(this), opts.pingIntervalMs);
  };
  proto._pingDisconnectDelay = function pingDisconnectDelay(this: unknown): number {
    return Math.min(disconnectDelay.call(this), ourDelayMs);
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
