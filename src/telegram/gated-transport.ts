/**
 * mtcute's TCP transport behind a gate: a connection to Telegram is opened only while `mayConnect()` says
 * so (the instance holds the account's lease, with time to spare), and every connection it opened can be
 * cut at once, synchronously (the lease is about to run out: nothing may stay connected), and nothing is
 * written on one while the gate is closed. mtcute's own reconnects go through here too, so a lapsed owner
 * can never reconnect by itself.
 */
import type { ITelegramConnection, TelegramTransport } from '@mtcute/core';
import { TcpTransport } from '@mtcute/node';
import type { BasicDcOption } from '@mtcute/core/utils.js';

export class ConnectionGateClosed extends Error {
  constructor() {
    super('not connecting to Telegram: this instance does not hold the account now');
    this.name = 'ConnectionGateClosed';
  }
}

export class GatedTransport implements TelegramTransport {
  private readonly inner = new TcpTransport();
  private readonly open = new Set<ITelegramConnection>();

  constructor(private readonly mayConnect: () => boolean) {}

  async connect(dc: BasicDcOption): Promise<ITelegramConnection> {
    if (!this.mayConnect()) throw new ConnectionGateClosed();
    const connection = await this.inner.connect(dc);
    if (!this.mayConnect()) {
      connection.close(); // the lease ran out while connecting
      throw new ConnectionGateClosed();
    }
    this.open.add(connection);
    (connection as { socket?: NodeJS.EventEmitter }).socket?.once('close', () => this.open.delete(connection));
    // Every write asks the gate too: a process that was stopped (SIGSTOP, a long stall) wakes up with its
    // I/O callbacks before its timers, so mtcute can answer what arrived meanwhile before the watchdog that
    // cuts connections at the lease's local deadline has run. Nothing is sent past that deadline.
    const write = connection.write.bind(connection);
    connection.write = (bytes) => {
      if (this.mayConnect()) return write(bytes);
      this.open.delete(connection);
      connection.close();
      return Promise.reject(new ConnectionGateClosed());
    };
    return connection;
  }

  packetCodec(): ReturnType<TcpTransport['packetCodec']> {
    return this.inner.packetCodec();
  }

  /** Open connections right now. */
  get openCount(): number {
    return this.open.size;
  }

  /** Closes every connection at once (the sockets are destroyed, not drained). */
  cutAll(): number {
    const count = this.open.size;
    for (const connection of this.open) connection.close();
    this.open.clear();
    return count;
  }
}
