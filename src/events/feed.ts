/**
 * What SSE, polling and webhooks read: one account's journaled events. The account's own pipeline is one
 * (AccountEvents, on the instance that holds the account); StoredEventFeed is the other (an instance that
 * does not hold it, reading what is committed to the database).
 */
import type { EventJournalReader, JournalEvent } from '../store/types.js';
import type { WireEvent } from './types.js';

export interface EventFeed {
  readonly accountId: string;
  /** Journaled events with id > afterId, oldest first, at most `limit`. */
  read(afterId: number, limit: number): Promise<JournalEvent[]>;
  bounds(): { firstId: number; lastId: number };
  /** Calls `listener` after new events are journaled (and when the feed closes); returns the unsubscribe. */
  subscribe(listener: () => void): () => void;
  toWire(event: JournalEvent): WireEvent;
  /** No more events will come through this feed (the account stopped here, or is gone). */
  readonly isClosed: boolean;
}

/** A feed held for as long as a reader needs it (an SSE stream, a poll). */
export interface HeldFeed {
  feed: EventFeed;
  release(): void;
}

/** `{id, type, at, account, …data}`: the SSE data, the webhook body, a polled item. */
export function wireEvent(accountId: string, event: JournalEvent): WireEvent {
  return { id: event.id, type: event.type, at: event.at, account: accountId, ...event.data };
}

/** What both feeds share: reads and bounds from their journal, listeners told of new events. */
export abstract class JournalFeed implements EventFeed {
  protected readonly listeners = new Set<() => void>();

  constructor(
    readonly accountId: string,
    private readonly source: Pick<EventJournalReader, 'read' | 'bounds'>,
  ) {}

  abstract readonly isClosed: boolean;

  read(afterId: number, limit: number): Promise<JournalEvent[]> {
    return this.source.read(afterId, limit);
  }

  bounds(): { firstId: number; lastId: number } {
    return this.source.bounds();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  toWire(event: JournalEvent): WireEvent {
    return wireEvent(this.accountId, event);
  }

  protected tell(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * An account's committed events as another instance reads them from the database: bounds as of the last
 * refresh(), which whoever hears of new events (NOTIFY, a timer) calls; listeners are told when lastId grew.
 * Closed when the account no longer exists, or by close().
 */
export class StoredEventFeed extends JournalFeed {
  private closed = false;
  private refreshing: Promise<void> | undefined;
  private again = false;

  constructor(
    accountId: string,
    private readonly reader: EventJournalReader,
  ) {
    super(accountId, reader);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Reads the bounds again; throws when the database cannot be asked (the next refresh tries again). One read
   * at a time (a later answer never overtaken by an earlier one); asked meanwhile, it reads once more after.
   */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.again = false;
          if (this.closed) return;
          const before = this.reader.bounds().lastId;
          if (!(await this.reader.refresh())) return this.close();
          if (this.reader.bounds().lastId > before) this.tell();
        } while (this.again);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tell(); // readers notice and end
    this.listeners.clear();
  }
}

/** Where an instance reads the events of accounts it does not hold (a cluster: from the database). */
export interface RemoteFeeds {
  /** Throws when they cannot be read right now. */
  open(accountId: string): Promise<HeldFeed>;
}
