/**
 * What every EventJournal backend stores of an event, and the rules they share (files/event-journal.ts,
 * postgres/event-journal.ts):
 *
 * - The record: `{"id","at","type","key","data"}` in clear — or, with SESSION_ENCRYPTION_KEY, sealed: the id in
 *   the clear (for ordering), the rest as IV | tag | AES-256-GCM, with the id bound as additional data. The
 *   same sealed bytes in a file line and in a row, so migrate-store moves a journal without the key.
 * - Its size is the length of its file line: what retention counts, in every backend.
 * - Retention: the oldest part (a file segment, a row) goes while the journal is over maxBytes or the part's
 *   newest event is older than maxAgeMs.
 * - A journal sealed with another key, or opened without one, is refused (JournalKeyError), never cut.
 */
import { openSealed, sealText } from './session-crypto.js';
import type { JournalEvent, JournalRetention, UpdateState } from './types.js';

/** Keys of the newest events handed to the deduplicator at open. */
export const KEY_WINDOW = 1024;
/** Events kept in memory for readers of the newest ones (SSE, webhooks), per journal. */
export const TAIL_EVENTS = 256;

/** An event as a backend keeps it: in clear, or sealed (moved as it is, without the key, by migrate-store). */
export type StoredEvent = { id: number; writtenAt: number } & ({ event: JournalEvent; sealed?: undefined } | { sealed: Buffer; event?: undefined });

/** A whole journal as migrate-store copies it from one backend to the other (one account at a time). */
export interface JournalDump {
  firstId: number;
  lastId: number;
  updateState: UpdateState | null;
  /** The dedupe keys count from the events after this id (the last reset). */
  keysFrom: number;
  /** Oldest first. */
  events: StoredEvent[];
}

/** The event as `key` wants it kept: sealed with it, or in clear. */
export function storedEvent(event: JournalEvent, writtenAt: number, key: Uint8Array | undefined): StoredEvent {
  return key ? { id: event.id, writtenAt, sealed: sealEvent(event, key) } : { id: event.id, writtenAt, event };
}

/** Its line in the file journal (without the newline). */
export function storedLine(stored: StoredEvent): string {
  return stored.sealed ? sealedLine(stored.id, stored.sealed) : eventLine(stored.event, undefined);
}

/** What retention counts for it, in every backend: its file line and newline. */
export function storedSize(stored: StoredEvent): number {
  return Buffer.byteLength(storedLine(stored)) + 1;
}

/** A line of the file journal: an event, an update state (null: a reset), or a sealed event the key does not open. */
export type JournalLine = { kind: 'event'; event: JournalEvent } | { kind: 'state'; state: UpdateState | null } | { kind: 'sealed'; id: number; sealed: Buffer };

/** The journal holds events sealed with another key (or no key is configured): nothing is read, nothing cut. */
export class JournalKeyError extends Error {
  constructor(where: string, keyMissing: boolean) {
    super(
      keyMissing
        ? `${where} holds events encrypted with SESSION_ENCRYPTION_KEY and no key is set; set the key it was written with`
        : `${where} holds events encrypted with another SESSION_ENCRYPTION_KEY; set the key it was written with`,
    );
    this.name = 'JournalKeyError';
  }
}

function sealAad(id: number): Buffer {
  return Buffer.from(`telegram-service event v1 ${id}`);
}

/** IV | tag | AES-256-GCM of the event without its id (bound as additional data). */
export function sealEvent(event: JournalEvent, key: Uint8Array): Buffer {
  const { iv, tag, data } = sealText(JSON.stringify({ at: event.at, type: event.type, key: event.key, data: event.data }), key, sealAad(event.id));
  return Buffer.concat([iv, tag, data]);
}

/** The sealed event `id`; undefined when the key does not open it (or the bytes were altered). */
export function openSealedEvent(id: number, sealed: Uint8Array, key: Uint8Array): JournalEvent | undefined {
  try {
    const inner = parseJsonObject(Buffer.from(openSealed({ iv: sealed.subarray(0, 12), tag: sealed.subarray(12, 28), data: sealed.subarray(28) }, key, sealAad(id)), 'utf8'));
    return inner ? eventOf({ ...inner, id }) : undefined;
  } catch {
    return undefined;
  }
}

export function sealedLine(id: number, sealed: Uint8Array): string {
  return JSON.stringify({ id, sealed: Buffer.from(sealed).toString('base64') });
}

/** The event's line in the file journal (without its newline): in clear, or sealed with `key`. */
export function eventLine(event: JournalEvent, key: Uint8Array | undefined): string {
  return key ? sealedLine(event.id, sealEvent(event, key)) : JSON.stringify({ id: event.id, at: event.at, type: event.type, key: event.key, data: event.data });
}

/** A line → event or state; a sealed event `key` does not open → `sealed` (with its bytes); undefined when unreadable. */
export function parseLine(bytes: Uint8Array, key: Uint8Array | undefined): JournalLine | undefined {
  const record = parseJsonObject(bytes);
  if (!record) return undefined;
  if (typeof record.sealed !== 'string') return parseRecord(record);
  const id = record.id;
  if (!Number.isSafeInteger(id)) return undefined;
  const sealed = Buffer.from(record.sealed, 'base64');
  const event = key ? openSealedEvent(id as number, sealed, key) : undefined;
  return event ? { kind: 'event', event } : { kind: 'sealed', id: id as number, sealed };
}

function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  if (bytes.length === 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function parseRecord(record: Record<string, unknown>): JournalLine | undefined {
  if ('state' in record) {
    const state = record.state;
    if (state === null) return { kind: 'state', state: null };
    return isUpdateState(state) ? { kind: 'state', state } : undefined;
  }
  const event = eventOf(record);
  return event ? { kind: 'event', event } : undefined;
}

/** A stored event's fields, checked; undefined when they are not an event's. */
export function eventOf(record: Record<string, unknown>): JournalEvent | undefined {
  const { id, at, type, key, data } = record;
  if (!Number.isSafeInteger(id) || (id as number) < 1 || typeof at !== 'string' || typeof type !== 'string' || typeof key !== 'string') return undefined;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  return { id: id as number, at, type, key, data: data as Record<string, unknown> };
}

export function isUpdateState(value: unknown): value is UpdateState {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Record<string, unknown>;
  const ints = [s.pts, s.qts, s.date, s.seq].every((n) => Number.isSafeInteger(n));
  const channels = s.channels === undefined || (typeof s.channels === 'object' && s.channels !== null && Object.values(s.channels).every((n) => Number.isSafeInteger(n)));
  return ints && channels;
}

/** Whether events last written at `lastAt` are past EVENTS_MAX_AGE at `now`. */
export function pastMaxAge(lastAt: number, retention: JournalRetention, now: number): boolean {
  return retention.maxAgeMs > 0 && lastAt < now - retention.maxAgeMs;
}

/** Whether retention drops the journal's oldest part (`journalBytes`: the whole journal's size now). */
export function retentionDrops(oldest: { bytes: number; lastAt: number }, journalBytes: number, retention: JournalRetention, now: number): boolean {
  return journalBytes > retention.maxBytes || pastMaxAge(oldest.lastAt, retention, now);
}

/** The newest events of a journal, in memory: readers of the newest ones (SSE, webhooks) never reach storage. */
export class EventTail {
  private events: JournalEvent[] = [];

  remember(event: JournalEvent): void {
    this.events.push(event);
    if (this.events.length > TAIL_EVENTS * 2) this.events = this.events.slice(-TAIL_EVENTS);
  }

  /** Events with id ≥ `from`, at most `limit`; undefined when the tail does not reach back to `from`. */
  readFrom(from: number, limit: number): JournalEvent[] | undefined {
    const cachedFrom = this.events[0]?.id;
    if (cachedFrom === undefined || from < cachedFrom) return undefined;
    const start = this.events.findIndex((e) => e.id >= from);
    return start === -1 ? [] : this.events.slice(start, start + limit);
  }
}
