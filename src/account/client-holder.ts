/**
 * Holds one account's mtcute client: built on first use (single-flight), replaced when a recovery,
 * logout or revocation drops it, destroyed on stop. Knows nothing about login states.
 */
import type { TelegramClient } from '@mtcute/node';
import type { Logger } from 'pino';

export interface ClientHolderOptions {
  create: () => Promise<TelegramClient>;
  /** Called once per client built (to subscribe to its events). */
  onCreated?: (client: TelegramClient) => void;
  logger: Logger;
}

/** ensure() while the session is being torn down: no new client (it would make a new key). */
export class SessionEndingError extends Error {
  constructor() {
    super('The session is ending');
    this.name = 'SessionEndingError';
  }
}

export class ClientHolder {
  private client: TelegramClient | null = null;
  private pending: Promise<TelegramClient> | null = null;
  private closed = false;
  private suspended = false;
  private readonly droppedClients = new WeakSet<TelegramClient>();

  constructor(private readonly opts: ClientHolderOptions) {}

  /** The live client, if one is built. */
  current(): TelegramClient | null {
    return this.client;
  }

  /** Whether `client` is no longer the held one (a recovery, logout or revocation dropped it). */
  replaced(client: TelegramClient): boolean {
    return this.client !== client;
  }

  /** Whether `client` was held here and has been dropped (it is destroyed, or being destroyed). */
  dropped(client: TelegramClient): boolean {
    return this.droppedClients.has(client);
  }

  ensure(): Promise<TelegramClient> {
    if (this.suspended) return Promise.reject(new SessionEndingError());
    if (this.client) return Promise.resolve(this.client);
    if (this.closed) return Promise.reject(new DOMException('The service is stopping', 'AbortError'));
    this.pending ??= this.opts
      .create()
      .then((client) => {
        if (this.closed) {
          void client.destroy().catch(() => undefined);
          throw new DOMException('The service is stopping', 'AbortError');
        }
        this.client = client;
        this.opts.onCreated?.(client);
        return client;
      })
      .finally(() => {
        this.pending = null;
      });
    return this.pending;
  }

  /** Destroys the held client (mtcute writes its pending state first); the next ensure() builds a new one. */
  async drop(): Promise<void> {
    const pending = this.pending;
    if (pending) await pending.catch(() => undefined);
    const client = this.client;
    this.client = null;
    if (!client) return;
    this.droppedClients.add(client);
    try {
      await client.destroy();
    } catch (err) {
      this.opts.logger.warn({ err }, 'Error while closing the Telegram client');
    }
  }

  /**
   * Drops the client and builds none until resume(): while a dead session's files are cleared, a call
   * racing with it must not build a client — its key exchange would write a fresh, unauthorized key
   * where the dead one was just removed.
   */
  async suspend(): Promise<void> {
    this.suspended = true;
    await this.drop();
  }

  resume(): void {
    this.suspended = false;
  }

  /** drop() for good: no client is built after this. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drop();
  }
}
