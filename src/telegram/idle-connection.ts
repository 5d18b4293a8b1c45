/**
 * An idle client's connection is left closed until its next request.
 *
 * While a request is under way mtcute asks the server to drop the connection if no ping follows within a
 * few seconds (ping_delay_disconnect), and once idle it does not ask again: Telegram — and the sandbox
 * DC — close the connection seconds after every request, and mtcute reconnects at once, only to sit idle
 * and ping every minute. For a thousand accounts that is a reconnect after every request of every account
 * and sixteen pings a second, for nothing. So when the connection closes while the client has no request
 * under way, and it had been open (an outage is another matter: its reconnects follow the usual waits),
 * the reconnect waits an hour, and the next request wakes it at once (mtcute's network-change notice).
 */

import type { TelegramClient } from '@mtcute/node';

/** How long a connection closed while idle stays closed unless a request comes. */
const IDLE_RECONNECT_MS = 60 * 60 * 1000;

export class IdleConnection {
  private callsUnderWay = 0;
  /** The reconnect is waiting IDLE_RECONNECT_MS (mtcute said nothing of a new connection since). */
  private asleep = false;
  private wake: (() => void) | undefined;

  /** `reconnectDelay`: the usual waits between reconnect attempts (after an outage). */
  constructor(private readonly reconnectDelay: (previousWait: number | null) => number) {}

  /** mtcute's reconnection strategy for the client. */
  readonly strategy = ({ previousWait }: { previousWait: number | null }): number => {
    // previousWait null: the connection had been open, and this is the first attempt since it closed.
    if (previousWait === null && this.callsUnderWay === 0 && this.wake) {
      this.asleep = true;
      return IDLE_RECONNECT_MS;
    }
    return this.reconnectDelay(previousWait);
  };

  /** `wake` reconnects a sleeping connection now; `connected` is called when mtcute has a connection again. */
  attach(wake: () => void, onConnected: (listener: () => void) => void): void {
    this.wake = wake;
    onConnected(() => {
      this.asleep = false;
    });
  }

  /** A request starts: a connection left closed is opened now. */
  begin(): void {
    this.callsUnderWay++;
    if (!this.asleep) return;
    this.asleep = false;
    this.wake?.();
  }

  end(): void {
    this.callsUnderWay--;
  }
}

const policies = new WeakMap<TelegramClient, IdleConnection>();

export function setIdleConnection(client: TelegramClient, idle: IdleConnection): void {
  policies.set(client, idle);
}

/** The client's idle-connection policy (every client the factory builds has one). */
export function idleConnectionOf(client: TelegramClient): IdleConnection | undefined {
  return policies.get(client);
}
