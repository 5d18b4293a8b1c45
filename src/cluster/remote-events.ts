/**
 * Events from any instance: an instance serves SSE and polling for an account it does not hold from the
 * database itself, never through its owner. What a reader gets is exactly what is committed, by id, so a
 * stream is not cut when the owner dies or hands the account over — it pauses until the next owner journals
 * again (ARCHITECTURE.md, "Events from any instance").
 *
 * One feed per account read here, shared by its streams. Owners NOTIFY tgs_events (the account id) at each
 * commit; one LISTEN connection wakes the feed, which reads the journal's bounds again. Notices can be missed
 * (the connection drops, the database restarts), so feeds are also refreshed after LISTEN (re)starts, on a
 * slow timer while it listens, and on a quick one while it cannot.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { StoredEventFeed, type HeldFeed } from '../events/feed.js';
import { EVENTS_CHANNEL } from '../store/postgres/event-journal.js';
import { pgErrorCode } from '../store/postgres/pool.js';
import type { EventJournalReader } from '../store/types.js';

export interface RemoteEventsOptions {
  databaseUrl: string;
  readerOf: (accountId: string) => EventJournalReader;
  logger: Logger;
  /** How often feeds are refreshed while notices cannot be heard (default 1 s). */
  pollMs?: number;
  /** … and while they can, in case one was missed (default 10 s). */
  safetyMs?: number;
}

interface Entry {
  feed: StoredEventFeed;
  users: number;
}

export class RemoteEvents {
  private readonly feeds = new Map<string, Entry>();
  private readonly log: Logger;
  private listener: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastSweep = 0;
  private stopped = false;

  constructor(private readonly opts: RemoteEventsOptions) {
    this.log = opts.logger.child({ module: 'remote-events' });
  }

  /**
   * The account's committed events, read here; release() when done. Its bounds are read afresh (a client
   * resuming after an id it got elsewhere must find it), so this throws when the database cannot be asked.
   */
  async open(accountId: string): Promise<HeldFeed> {
    if (this.stopped) throw new Error('the service is stopping');
    let entry = this.feeds.get(accountId);
    if (!entry) {
      entry = { feed: new StoredEventFeed(accountId, this.opts.readerOf(accountId)), users: 0 };
      this.feeds.set(accountId, entry);
      this.start();
    }
    const held = entry;
    held.users++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (--held.users > 0 || this.feeds.get(accountId) !== held) return;
      this.feeds.delete(accountId);
      held.feed.close();
      if (this.feeds.size === 0) this.idle();
    };
    try {
      await held.feed.refresh();
    } catch (err) {
      release();
      throw err;
    }
    return { feed: held.feed, release };
  }

  /** Ends every feed (their streams end) and stops listening. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const entry of this.feeds.values()) entry.feed.close();
    this.feeds.clear();
    this.idle();
    await this.connecting?.catch(() => undefined);
  }

  private start(): void {
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.opts.pollMs ?? 1000);
      this.timer.unref();
    }
    void this.listen();
  }

  /** No feed left: no connection held, no timer. */
  private idle(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    const listener = this.listener;
    this.listener = undefined;
    void listener?.end().catch(() => undefined);
  }

  private tick(): void {
    const listening = !!this.listener;
    if (listening && Date.now() - this.lastSweep < (this.opts.safetyMs ?? 10_000)) return;
    this.refreshAll();
    if (!listening) void this.listen();
  }

  private refreshAll(): void {
    this.lastSweep = Date.now();
    for (const entry of this.feeds.values()) this.refresh(entry);
  }

  private refresh(entry: Entry): void {
    entry.feed.refresh().catch((err: unknown) => this.log.debug({ account: entry.feed.accountId, code: pgErrorCode(err) }, 'Could not read the event journal; retrying'));
  }

  private listen(): Promise<void> {
    if (this.listener || this.stopped || this.feeds.size === 0) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.databaseUrl, connectionTimeoutMillis: 3000, keepAlive: true });
    const lost = (): void => {
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (notice) => {
      const entry = notice.payload ? this.feeds.get(notice.payload) : undefined;
      if (entry) this.refresh(entry);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (err) {
      this.log.debug({ code: pgErrorCode(err) }, 'Event notices unavailable; reading the journals on a timer');
      await client.end().catch(() => undefined);
      return;
    }
    if (this.stopped || this.feeds.size === 0) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.refreshAll(); // what was committed before LISTEN took effect
  }
}
