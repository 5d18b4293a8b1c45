/**
 * The PostgreSQL backend of EventJournal (types.ts): tgs_events, a row per event, and tgs_event_journals, a
 * row per account with the retained ids, their size, the newest update state and where the dedupe keys start.
 * The records, their sealing with SESSION_ENCRYPTION_KEY and the retention rule are the file journal's
 * (journal-records.ts).
 *
 * - Group commit: one append — a batch of events, then the state that covers them — is one transaction (one
 *   commit, one WAL flush), answered once committed. Events and state commit together, so the stored state
 *   never covers an event the journal lacks.
 * - Every write (appends, retention) is fenced by the account's lease (fence.ts): a former owner cannot append
 *   after a take-over, and the new owner continues the ids from the row.
 * - A commit whose answer was lost (the connection dropped during COMMIT) is found by the retry: the ids it
 *   would take are taken, by rows with the batch's keys — answered as stored, never journaled twice.
 * - Readers on other instances (SSE from any instance) hear of new events through NOTIFY tgs_events (the
 *   account id), sent at commit, and read the rows (PostgresJournalReader).
 * - Retention drops the oldest rows, in steps of 1/64 of maxBytes (as the file journal drops whole segments),
 *   so a full journal is not trimmed on every append.
 * - Reads of recent events come from a small in-memory tail, older ones from the table.
 */
import type pg from 'pg';
import type { Pool } from './pool.js';
import { fencedTransaction, type FencedTarget } from './fence.js';
import { eventOf, EventTail, isUpdateState, JournalKeyError, KEY_WINDOW, openSealedEvent, retentionDrops, storedEvent, storedSize, type JournalDump, type StoredEvent } from '../journal-records.js';
import { SerialQueue } from '../serial-queue.js';
import type { EventJournal, EventJournalReader, JournalEvent, JournalOpened, JournalRetention, NewJournalEvent, StoreLog, UpdateState } from '../types.js';

/** LISTEN/NOTIFY channel: "account <payload> journaled new events". */
export const EVENTS_CHANNEL = 'tgs_events';
/** Rows read or written per query (retention, migrate-store). */
const ROWS_PER_QUERY = 512;
/** Rows retention deletes in one transaction at most. */
const MAX_TRIM = 16 * ROWS_PER_QUERY;
/** Retention trims a journal over maxBytes down to this much below it. */
const RETENTION_STEP_DIVISOR = 64;

export interface PostgresEventJournalOptions extends FencedTarget {
  log: StoreLog;
  retention: JournalRetention;
  now?: () => number;
  /** 32 bytes: events are sealed (AES-256-GCM) at rest. */
  encryptionKey?: Uint8Array;
}

interface EventRow {
  id: string;
  type: string | null;
  key: string | null;
  at: string | null;
  data: Record<string, unknown> | null;
  sealed: Buffer | null;
}

interface JournalRow {
  first_id: string;
  last_id: string;
  bytes: string;
  keys_from: string;
  update_state: unknown;
}

const EVENT_COLUMNS = 'id, type, key, at, data, sealed';

/** The event of a row; undefined for one that is not an event's, or sealed and `key` does not open it. */
function eventOfRow(row: EventRow, key: Uint8Array | undefined): JournalEvent | undefined {
  const id = Number(row.id);
  if (row.sealed) return key ? openSealedEvent(id, row.sealed, key) : undefined;
  return eventOf({ id, at: row.at, type: row.type, key: row.key, data: row.data });
}

/**
 * Committed events of the account with id in (afterId, upToId], oldest first, at most `limit`. Rows that are
 * not readable (sealed with another key) are skipped, as the file journal skips such lines.
 */
async function readRows(pool: Pool, accountId: string, key: Uint8Array | undefined, afterId: number, upToId: number, limit: number): Promise<JournalEvent[]> {
  const wanted = Math.max(0, Math.floor(limit));
  if (wanted === 0 || afterId >= upToId) return [];
  const { rows } = await pool.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM tgs_events WHERE account_id = $1 AND id > $2 AND id <= $3 ORDER BY id LIMIT $4`,
    [accountId, afterId, upToId, wanted],
  );
  return rows.flatMap((row) => eventOfRow(row, key) ?? []);
}

export function createPostgresEventJournal(opts: PostgresEventJournalOptions): EventJournal {
  return new PostgresEventJournal(opts);
}

/** The ids an append would take are taken already (see the module comment). */
class IdsTaken extends Error {}

class PostgresEventJournal implements EventJournal {
  /** Opens, appends, retention and close, one at a time in call order. */
  private readonly queue = new SerialQueue(async () => undefined);
  private readonly now: () => number;
  private readonly tail = new EventTail();
  private firstId = 1;
  private lastId = 0;
  private storedBytes = 0;
  private keysFrom = 0;
  private state: UpdateState | null = null;
  private closed = false;

  constructor(private readonly opts: PostgresEventJournalOptions) {
    this.now = opts.now ?? Date.now;
  }

  private get where(): string {
    return `the event journal of account ${this.opts.accountId} in PostgreSQL`;
  }

  // ───────────────────────────── open ─────────────────────────────

  open(): Promise<JournalOpened> {
    return this.queue.run(async () => {
      await this.loadRow();
      // The newest rows, whatever the keys' start: the newest is always checked against the key.
      const { rows } = await this.opts.pool.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM tgs_events WHERE account_id = $1 ORDER BY id DESC LIMIT $2`,
        [this.opts.accountId, KEY_WINDOW],
      );
      const recent: JournalEvent[] = [];
      for (const row of rows.reverse()) {
        const event = eventOfRow(row, this.opts.encryptionKey);
        if (event) recent.push(event);
        else if (row.sealed) throw new JournalKeyError(this.where, !this.opts.encryptionKey);
      }
      for (const event of recent) this.tail.remember(event);
      await this.retainSafely();
      return { ...this.bounds(), updateState: this.state, recentKeys: recent.filter((e) => e.id > this.keysFrom).map((e) => e.key) };
    });
  }

  /** Memory ← the journal's row (absent: an empty journal). */
  private async loadRow(): Promise<void> {
    const { rows } = await this.opts.pool.query<JournalRow>('SELECT first_id, last_id, bytes, keys_from, update_state FROM tgs_event_journals WHERE account_id = $1', [
      this.opts.accountId,
    ]);
    this.setFromRow(rows[0]);
  }

  private setFromRow(row: Partial<JournalRow> | undefined): void {
    this.firstId = Number(row?.first_id ?? 1);
    this.lastId = Number(row?.last_id ?? 0);
    this.storedBytes = Number(row?.bytes ?? 0);
    this.keysFrom = Number(row?.keys_from ?? 0);
    if (row && 'update_state' in row) this.state = isUpdateState(row.update_state) ? row.update_state : null;
  }

  /** The space the journal's events take in the database (the size of each as stored), in bytes. */
  bytes(): number {
    return this.storedBytes;
  }

  // ───────────────────────────── append ─────────────────────────────

  append(events: NewJournalEvent[], updateState?: UpdateState | null): Promise<JournalEvent[]> {
    return this.queue.run(async () => {
      if (this.closed) throw new Error('the event journal is closed');
      if (events.length === 0 && updateState === undefined) return [];
      let stored: JournalEvent[];
      try {
        stored = await this.write(events, updateState);
      } catch (err) {
        if (!(err instanceof IdsTaken) && (err as { code?: unknown }).code !== '23505') throw err;
        stored = await this.reconcile(events, updateState);
      }
      for (const event of stored) this.tail.remember(event);
      if (this.storedBytes > this.opts.retention.maxBytes) await this.retainSafely();
      return stored;
    });
  }

  /** One transaction: the events with ids lastId + 1, …, then the journal's row (and the state). */
  private async write(events: NewJournalEvent[], updateState: UpdateState | null | undefined): Promise<JournalEvent[]> {
    const previous = this.lastId;
    const writtenAt = this.now();
    const stored = events.map((e, i): JournalEvent => ({ id: previous + 1 + i, at: e.at, type: e.type, key: e.key, data: e.data }));
    const rows = stored.map((e) => storedEvent(e, writtenAt, this.opts.encryptionKey));
    const row = await fencedTransaction(this.opts, async (client) => {
      const added = await insertEvents(client, this.opts.accountId, rows);
      const { rows: journal } = await client.query<JournalRow>(UPSERT_JOURNAL, [
        this.opts.accountId,
        previous,
        previous + stored.length,
        added,
        updateState !== undefined,
        updateState === null,
        updateState ? JSON.stringify(updateState) : null,
        stored.length > 0 ? EVENTS_CHANNEL : null,
      ]);
      if (!journal[0]) throw new IdsTaken();
      return journal[0];
    });
    this.setFromRow(row);
    if (updateState !== undefined) this.state = updateState;
    return stored;
  }

  /**
   * The ids after our last one are taken. Normally by this very batch: a commit of ours whose answer was lost
   * (its rows carry the batch's first keys) — those are answered as stored and the rest appended after them.
   * Anything else means another writer (never under fencing): its events are kept and ours go after them.
   */
  private async reconcile(events: NewJournalEvent[], updateState: UpdateState | null | undefined): Promise<JournalEvent[]> {
    const known = this.lastId;
    await this.loadRow();
    const taken = await readRows(this.opts.pool, this.opts.accountId, this.opts.encryptionKey, known, this.lastId, events.length);
    const ours = taken.length === this.lastId - known && taken.every((e, i) => e.key === events[i]?.key);
    if (!ours) this.opts.log.error({ account: this.opts.accountId, known, lastId: this.lastId }, 'event journal: ids taken by another writer; appending after them');
    const rest = ours ? events.slice(taken.length) : events;
    const appended = rest.length > 0 || updateState !== undefined ? await this.write(rest, updateState) : [];
    return [...(ours ? taken : []), ...appended];
  }

  // ───────────────────────────── read ─────────────────────────────

  async read(afterId: number, limit: number): Promise<JournalEvent[]> {
    const wanted = Math.max(0, Math.floor(limit));
    if (wanted === 0 || afterId >= this.lastId) return [];
    const from = Math.max(afterId + 1, this.firstId);
    return this.tail.readFrom(from, wanted) ?? readRows(this.opts.pool, this.opts.accountId, this.opts.encryptionKey, from - 1, this.lastId, wanted);
  }

  bounds(): { firstId: number; lastId: number } {
    return { firstId: Math.min(this.firstId, this.lastId + 1), lastId: this.lastId };
  }

  // ───────────────────────────── retention ─────────────────────────────

  applyRetention(now: number): Promise<void> {
    return this.queue.run(() => (this.closed ? Promise.resolve() : this.retainExclusive(now)));
  }

  /** Retention that never fails its caller (opening, an append that is committed): the next round tries again. */
  private async retainSafely(): Promise<void> {
    try {
      await this.retainExclusive(this.now());
    } catch (err) {
      this.opts.log.warn({ account: this.opts.accountId, err }, 'event journal: retention failed; retrying later');
    }
  }

  /**
   * Finds the newest id retention drops (oldest rows first), then deletes up to it in one fenced transaction
   * — at most MAX_TRIM rows at a time, so one statement never runs long.
   */
  private async retainExclusive(now: number): Promise<void> {
    const { retention } = this.opts;
    // Over maxBytes, the journal counts as over until it is a step below it.
    const slack = this.storedBytes > retention.maxBytes ? Math.floor(retention.maxBytes / RETENTION_STEP_DIVISOR) : 0;
    for (;;) {
      let bytes = this.storedBytes + slack;
      let cut = this.firstId - 1;
      let more = false;
      scan: for (let scanned = 0; ; scanned += ROWS_PER_QUERY) {
        if (scanned >= MAX_TRIM) {
          more = true;
          break;
        }
        const { rows } = await this.opts.pool.query<{ id: string; size: number; written_at: Date }>(
          'SELECT id, size, written_at FROM tgs_events WHERE account_id = $1 AND id > $2 AND id <= $3 ORDER BY id LIMIT $4',
          [this.opts.accountId, cut, this.lastId, ROWS_PER_QUERY],
        );
        for (const row of rows) {
          if (!retentionDrops({ bytes: row.size, lastAt: row.written_at.getTime() }, bytes, retention, now)) break scan;
          bytes -= row.size;
          cut = Number(row.id);
        }
        if (rows.length < ROWS_PER_QUERY) break;
      }
      if (cut < this.firstId) return;
      const row = await fencedTransaction(this.opts, async (client) => (await client.query<JournalRow>(TRIM_JOURNAL, [this.opts.accountId, cut])).rows[0]);
      const dropped = Number(row?.first_id ?? cut + 1) - this.firstId;
      this.setFromRow(row);
      this.opts.log.info({ account: this.opts.accountId, events: dropped, firstId: this.firstId }, 'event journal: old events removed by retention');
      if (!more) return;
    }
  }

  async close(): Promise<void> {
    await this.queue.run(async () => {
      this.closed = true;
    });
  }
}

/** Inserts the rows (in clear, or sealed); returns their size as retention counts it. */
async function insertEvents(client: pg.PoolClient, accountId: string, events: StoredEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const sizes = events.map(storedSize);
  await client.query(INSERT_EVENTS, [
    accountId,
    events.map((e) => e.id),
    events.map((e) => new Date(e.writtenAt)),
    sizes,
    events.map((e) => e.event?.type ?? null),
    events.map((e) => e.event?.key ?? null),
    events.map((e) => e.event?.at ?? null),
    events.map((e) => (e.event ? JSON.stringify(e.event.data) : null)),
    events.map((e) => e.sealed ?? null),
  ]);
  return sizes.reduce((sum, n) => sum + n, 0);
}

const INSERT_EVENTS = `
  INSERT INTO tgs_events (account_id, id, written_at, size, type, key, at, data, sealed)
  SELECT $1, e.id, e.written_at, e.size, e.type, e.key, e.at, e.data, e.sealed
  FROM unnest($2::bigint[], $3::timestamptz[], $4::int[], $5::text[], $6::text[], $7::text[], $8::json[], $9::bytea[])
    AS e(id, written_at, size, type, key, at, data, sealed)`;

/**
 * The journal's row after an append: last_id moves from $2 to $3 (no row is returned when it was not at $2),
 * the state replaced when one came ($5; $6: a reset, which also restarts the dedupe keys), and — when events
 * came — a notice to readers elsewhere, delivered at commit.
 */
const UPSERT_JOURNAL = `
  WITH j AS (
    INSERT INTO tgs_event_journals AS j (account_id, last_id, bytes, keys_from, update_state)
      VALUES ($1, $3::bigint, $4::bigint, CASE WHEN $6::boolean THEN $3::bigint ELSE 0 END, $7::jsonb)
    ON CONFLICT (account_id) DO UPDATE SET
      last_id = $3::bigint,
      bytes = j.bytes + $4::bigint,
      keys_from = CASE WHEN $6::boolean THEN $3::bigint ELSE j.keys_from END,
      update_state = CASE WHEN $5::boolean THEN $7::jsonb ELSE j.update_state END
      WHERE j.last_id = $2::bigint
    RETURNING j.first_id, j.last_id, j.bytes, j.keys_from, j.update_state
  )
  SELECT j.*, CASE WHEN $8::text IS NULL THEN NULL ELSE pg_notify($8::text, $1) END AS notified FROM j`;

/** Retention: the rows up to $2 go; the row's first id and size follow what was deleted. */
const TRIM_JOURNAL = `
  WITH d AS (DELETE FROM tgs_events WHERE account_id = $1 AND id <= $2::bigint RETURNING size)
  UPDATE tgs_event_journals SET first_id = GREATEST(first_id, $2::bigint + 1), bytes = bytes - (SELECT COALESCE(sum(size), 0) FROM d)
  WHERE account_id = $1
  RETURNING first_id, last_id, bytes, keys_from`;

/** Read-only access to an account's committed journal, for instances that do not hold it. */
export class PostgresJournalReader implements EventJournalReader {
  private firstId = 1;
  private lastId = 0;

  constructor(private readonly opts: { pool: Pool; accountId: string; encryptionKey?: Uint8Array }) {}

  async refresh(): Promise<boolean> {
    const { rows } = await this.opts.pool.query<{ first_id: string | null; last_id: string | null }>(
      'SELECT j.first_id, j.last_id FROM tgs_accounts a LEFT JOIN tgs_event_journals j ON j.account_id = a.id WHERE a.id = $1',
      [this.opts.accountId],
    );
    if (!rows[0]) return false;
    this.firstId = Number(rows[0].first_id ?? 1);
    this.lastId = Number(rows[0].last_id ?? 0);
    return true;
  }

  bounds(): { firstId: number; lastId: number } {
    return { firstId: Math.min(this.firstId, this.lastId + 1), lastId: this.lastId };
  }

  read(afterId: number, limit: number): Promise<JournalEvent[]> {
    return readRows(this.opts.pool, this.opts.accountId, this.opts.encryptionKey, Math.max(afterId, this.firstId - 1), this.lastId, limit);
  }
}

// ───────────────────────────── migrate-store ─────────────────────────────

/** The account's whole journal as it is kept (sealed events stay sealed: no key needed). */
export async function dumpPostgresJournal(pool: Pool, accountId: string): Promise<JournalDump> {
  const [journal, events] = await Promise.all([
    pool.query<JournalRow>('SELECT first_id, last_id, bytes, keys_from, update_state FROM tgs_event_journals WHERE account_id = $1', [accountId]),
    pool.query<EventRow & { written_at: Date }>(`SELECT ${EVENT_COLUMNS}, written_at FROM tgs_events WHERE account_id = $1 ORDER BY id`, [accountId]),
  ]);
  const row = journal.rows[0];
  const lastId = Number(row?.last_id ?? 0);
  return {
    firstId: Math.min(Number(row?.first_id ?? 1), lastId + 1),
    lastId,
    updateState: isUpdateState(row?.update_state) ? row.update_state : null,
    keysFrom: Number(row?.keys_from ?? 0),
    events: events.rows.flatMap((r): StoredEvent[] => {
      const id = Number(r.id);
      const writtenAt = r.written_at.getTime();
      if (r.sealed) return [{ id, writtenAt, sealed: r.sealed }];
      const event = eventOfRow(r, undefined);
      return event ? [{ id, writtenAt, event }] : [];
    }),
  };
}

/** Writes `dump` as the journal of an account that has none, in the caller's transaction. */
export async function loadPostgresJournal(client: pg.PoolClient, accountId: string, dump: JournalDump): Promise<void> {
  let bytes = 0;
  for (let i = 0; i < dump.events.length; i += ROWS_PER_QUERY) bytes += await insertEvents(client, accountId, dump.events.slice(i, i + ROWS_PER_QUERY));
  await client.query('INSERT INTO tgs_event_journals (account_id, first_id, last_id, bytes, keys_from, update_state) VALUES ($1, $2, $3, $4, $5, $6::jsonb)', [
    accountId,
    dump.firstId,
    dump.lastId,
    bytes,
    dump.keysFrom,
    dump.updateState === null ? null : JSON.stringify(dump.updateState),
  ]);
}
