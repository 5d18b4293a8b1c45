/**
 * Keeps idle mtcute 0.30 connections open (packages/sandbox-dc/README.md, "Idle mtcute clients reconnect
 * every ~7 s").
 *
 * While a request is pending, mtcute pings with `ping_delay_disconnect` and a short delay (rtt × 2.5 + 2 s,
 * about 7 s); the server must close the connection when that delay passes without another ping. When the
 * connection goes idle, mtcute switches to its long idle delay (about 137 s) but sends the next ping only a
 * ping interval later (60 s + up to 5 s), so the server's 7 s timer fires first: every client that made a
 * request reconnects ~7 s later, calls updates.getState, and the round starts again. tdlib pings at once
 * when it goes idle; this does the same: a connection whose last ping carried the short delay sends a ping
 * with the idle delay as soon as it is idle (or as soon as the pong of a ping in flight arrives).
 *
 * mtcute has no option for this (pingInterval cannot make the first idle ping come sooner without pinging
 * every few seconds forever), so it hooks two private methods of SessionConnection. install() checks that
 * what it hooks exists and throws if not; test/unit/idle-ping.test.ts proves the effect against the sandbox
 * DC and fails if an mtcute update changes what is hooked.
 */
import { SessionConnection } from '@mtcute/core';

/** The private parts of mtcute's SessionConnection this relies on. */
interface ConnectionInternals {
  _active: boolean;
  _online: boolean;
  _isActive(): boolean;
  _flush(): void;
  _onPong(message: unknown): void;
  _flushTimer: { emitNow(): void };
  _session: { lastPingMsgId: { isZero(): boolean; eq(other: unknown): boolean }; lastPingTime: number };
  params: { isMainConnection: boolean };
}

/** Connections whose last ping told the server to disconnect after the short, active-mode delay. */
const shortDelayPinged = new WeakSet<object>();
let uninstallCurrent: (() => void) | undefined;

function owesIdlePing(connection: ConnectionInternals): boolean {
  return (
    shortDelayPinged.has(connection) &&
    connection._session.lastPingMsgId.isZero() &&
    !(connection._online && connection._isActive())
  );
}

/** Installs the idle ping on mtcute's connections (once per process; later calls do nothing). Returns the uninstall. */
export function installIdlePing(): () => void {
  if (uninstallCurrent) return uninstallCurrent;
  const proto = SessionConnection.prototype as unknown as ConnectionInternals;
  if (typeof proto._flush !== 'function' || typeof proto._onPong !== 'function' || typeof proto._isActive !== 'function') {
    throw new Error('mtcute SessionConnection no longer has _flush/_onPong/_isActive: src/telegram/idle-ping.ts must be updated for this mtcute version');
  }
  const flush = proto._flush;
  const onPong = proto._onPong;

  proto._flush = function (this: ConnectionInternals) {
    const session = this._session;
    if (owesIdlePing(this)) session.lastPingTime = -Infinity; // the flush below pings now, with the idle delay
    const before = session.lastPingMsgId;
    flush.call(this);
    const after = session.lastPingMsgId;
    if (after !== before && !after.isZero() && !after.eq(before)) {
      // A ping just left: remember whether it carried the short delay (mtcute's _pingDisconnectDelay).
      if (this._active && this.params.isMainConnection) shortDelayPinged.add(this);
      else shortDelayPinged.delete(this);
    }
  };
  proto._onPong = function (this: ConnectionInternals, message: unknown) {
    onPong.call(this, message);
    // The connection went idle while that ping was in flight: ping again now with the idle delay.
    if (owesIdlePing(this)) this._flushTimer.emitNow();
  };

  uninstallCurrent = () => {
    proto._flush = flush;
    proto._onPong = onPong;
    uninstallCurrent = undefined;
  };
  return uninstallCurrent;
}
