/**
 * The file backend of EventJournal (see types.ts): DATA_DIR/accounts/<id>/events/, one JSON line per record
 * in segment files named after the first event id they hold (`00000000000000000001.jsonl`).
 *
 *   {"id":7,"at":"…","type":"message.new","key":"n:42:7","data":{…}}     an event
 *   {"state":{"pts":12,"qts":0,"date":…,"seq":0}}                        the update state covering what precedes it
 *   {"state":null}                                                       a reset (the session ended)
 *
 * - Appends are one durable write: the active segment is open with O_DSYNC, so a write returns once its data
 *   (and the size that reaches it) is on stable storage — fdatasync's guarantee, in one system call. The
 *   write is made on the event loop's thread while that stays cheap, otherwise through libuv's thread pool
 *   (inline-writes.ts). A batch's events come before the state that covers them, so a crash keeps a prefix
 *   in which any state covers only events that are there.
 * - A crash in the middle of a write leaves a torn last line: open() cuts it off (nothing after it was ever
 *   acknowledged). An unreadable line followed by good ones is not a torn write: it is skipped and logged.
 * - A new segment starts when the active one reaches `segmentBytes`, with the current state as its first
 *   line, so retention can drop whole old segments without losing the state.
 * - Retention: the oldest segments go while the journal is over `maxBytes` or their newest event is older
 *   than `maxAgeMs`; the active segment is rotated first when it is itself too old.
 * - Reads of recent events come from a small in-memory tail; older ones from the segment files (a sparse
 *   offset index per segment, built on first use).
 * - With SESSION_ENCRYPTION_KEY an event line is `{"id":7,"sealed":"<base64 of IV | tag | AES-256-GCM of the
 *   rest>"}` (journal-records.ts, shared with PostgreSQL); a journal sealed with another key, or opened
 *   without one, is refused — never cut off as if torn.
 */
import fs, { constants as fsConstants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir, fsyncDir, PRIVATE_FILE_MODE } from '@telegram-service/durable-files';
import { errnoCode } from '../errors.js';
import { eventLine, EventTail, JournalKeyError, KEY_WINDOW, parseLine, pastMaxAge, retentionDrops, type JournalLine } from '../journal-records.js';
import type { EventJournal, JournalEvent, JournalOpened, JournalRetention, NewJournalEvent, StoreLog, UpdateState } from '../types.js';
import { SerialQueue } from '../serial-queue.js';
import { processInlineWrites, type InlineWrites } from './inline-writes.js';
import { LOG_MESSAGES } from '../../logging/messages.js';

export const EVENTS_DIR_NAME = 'events';
export const SEGMENT_NAME = /^(\d{20})\.jsonl$/;
const MIN_SEGMENT_BYTES = 64 * 1024;
/** The active segment is read whole at open: a small one keeps starts with many accounts quick. */
export const MAX_SEGMENT_BYTES = 4 * 1024 * 1024;
/** One offset remembered every this many events of a segment. */
const INDEX_STRIDE = 64;
const READ_CHUNK_BYTES = 64 * 1024;

export interface FileEventJournalOptions {
  dir: string;
  log: StoreLog;
  retention: JournalRetention;
  /** When a new segment starts (default: 1/64 of maxBytes, from 64 KiB to 4 MiB). */
  segmentBytes?: number;
  now?: () => number;
  /** 32 bytes: event lines are sealed (AES-256-GCM) at rest. */
  encryptionKey?: Uint8Array;
  /** When an append may be written on the event loop's thread (default: the process's one budget). */
  inlineWrites?: InlineWrites;
}

interface Segment {
  firstId: number;
  file: string;
  bytes: number;
  /** When its newest record was written (ms). */
  lastAt: number;
  /** [id, byte offset] every INDEX_STRIDE events; null until built. */
  index: Array<[number, number]> | null;
  /** Events in it (for the index stride). */
  events: number;
}

/** A segment's file name: its first event id, 20 digits (so names sort as ids do). */
export function segmentFileName(firstId: number): string {
  return `${String(firstId).padStart(20, '0')}.jsonl`;
}

export function createFileEventJournal(opts: FileEventJournalOptions): EventJournal {
  return new FileEventJournal(opts);
}

/**
 * How the active segment is opened: 'a' (O_WRONLY | O_CREAT | O_APPEND) and O_DSYNC, so one write is durable
 * without a second system call (write + fdatasync through the thread pool was two hops; one less took the
 * events bench's tmpfs p99 ratio from about 2.5× to 1.6×).
 */
export const APPEND_DURABLY = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_APPEND | fsConstants.O_DSYNC;

/** How long the active segment stays open after the last append. */
const IDLE_CLOSE_MS = 1000;

class FileEventJournal implements EventJournal {
  /** Opens, appends, retention and close, one at a time in call order. */
  private readonly queue = new SerialQueue(async () => undefined);
  private readonly now: () => number;
  private readonly inline: InlineWrites;
  private readonly segmentBytes: number;
  private segments: Segment[] = [];
  /** The active segment, open for appending while events come; closed after IDLE_CLOSE_MS without any. */
  private handle: fsp.FileHandle | undefined;
  private idleClose: NodeJS.Timeout | undefined;
  /** A failed write could not be taken back: the next append starts a new segment. */
  private mustRoll = false;
  private lastId = 0;
  private state: UpdateState | null = null;
  private readonly tail = new EventTail();
  private closed = false;

  constructor(private readonly opts: FileEventJournalOptions) {
    this.now = opts.now ?? Date.now;
    this.inline = opts.inlineWrites ?? processInlineWrites;
    this.segmentBytes = opts.segmentBytes ?? Math.min(MAX_SEGMENT_BYTES, Math.max(MIN_SEGMENT_BYTES, Math.floor(opts.retention.maxBytes / 64)));
  }

  // ───────────────────────────── open ─────────────────────────────

  async open(): Promise<JournalOpened> {
    return this.queue.run(async () => {
      const created = await ensurePrivateDir(this.opts.dir);
      for (const warning of created.warnings) this.opts.log.warn({ dir: this.opts.dir }, warning);
      const names = (await fsp.readdir(this.opts.dir)).filter((name) => SEGMENT_NAME.test(name)).sort();
      for (const name of names) {
        const file = path.join(this.opts.dir, name);
        const stat = await fsp.stat(file);
        this.segments.push({ firstId: Number(SEGMENT_NAME.exec(name)![1]), file, bytes: stat.size, lastAt: stat.mtimeMs, index: null, events: 0 });
      }
      let recentKeys: string[] = [];
      const last = this.segments.at(-1);
      if (last) {
        const scanned = await this.scanLast(last);
        recentKeys = scanned.keys;
        this.lastId = scanned.lastId ?? last.firstId - 1;
        this.state = scanned.state === undefined ? await this.stateBefore(this.segments.length - 1) : scanned.state;
      }
      // No segment yet: the first append makes it (a start with a thousand new journals writes nothing).
      await this.retainExclusive(this.now());
      return { ...this.boundsNow(), updateState: this.state, recentKeys };
    });
  }

  /**
   * Reads the active segment: its events (index, tail, keys), the newest state line, and a torn last write
   * cut off. Returns the newest event id in it, if any.
   */
  private async scanLast(segment: Segment): Promise<{ lastId?: number; state?: UpdateState | null; keys: string[] }> {
    const bytes = await fsp.readFile(segment.file);
    let offset = 0;
    let goodEnd = 0;
    let lastId: number | undefined;
    let state: UpdateState | null | undefined;
    let keys: string[] = [];
    let skipped = 0;
    const index: Array<[number, number]> = [];
    let events = 0;
    let pendingBad: number | undefined;
    while (offset < bytes.length) {
      const newline = bytes.indexOf(0x0a, offset);
      const end = newline === -1 ? bytes.length : newline;
      const line = newline === -1 ? undefined : parseLine(bytes.subarray(offset, end), this.opts.encryptionKey);
      if (line?.kind === 'sealed') throw new JournalKeyError(segment.file, !this.opts.encryptionKey);
      if (!line) {
        pendingBad ??= offset;
        offset = end + 1;
        continue;
      }
      if (pendingBad !== undefined) {
        skipped++; // an unreadable line with good ones after it: not a torn write
        pendingBad = undefined;
      }
      if (line.kind === 'state') {
        state = line.state;
        if (line.state === null) keys = [];
      } else if (lastId === undefined || line.event.id > lastId) {
        if (events % INDEX_STRIDE === 0) index.push([line.event.id, offset]);
        events++;
        lastId = line.event.id;
        keys.push(line.event.key);
        if (keys.length > KEY_WINDOW * 2) keys = keys.slice(-KEY_WINDOW);
        this.tail.remember(line.event);
      } else {
        skipped++;
      }
      offset = end + 1;
      goodEnd = offset;
    }
    if (skipped > 0) this.opts.log.error({ file: segment.file, lines: skipped }, 'event journal: unreadable or out-of-order lines skipped');
    if (goodEnd < bytes.length) {
      // The last write was cut short by a crash: it was never acknowledged, so nothing of it is lost.
      await fsp.truncate(segment.file, goodEnd);
      const handle = await fsp.open(segment.file, 'r+');
      await handle.datasync().finally(() => handle.close());
      this.opts.log.warn({ file: segment.file, bytes: bytes.length - goodEnd }, LOG_MESSAGES.journalTornWriteCut);
    }
    segment.bytes = goodEnd;
    segment.index = index;
    segment.events = events;
    return { ...(lastId !== undefined ? { lastId } : {}), ...(state !== undefined ? { state } : {}), keys: keys.slice(-KEY_WINDOW) };
  }

  /** The newest state line of the segments before `end` (a segment created but never written to). */
  private async stateBefore(end: number): Promise<UpdateState | null> {
    for (let i = end - 1; i >= 0; i--) {
      let found: UpdateState | null | undefined;
      await this.forEachLine(this.segments[i]!, 0, (line) => {
        if (line.kind === 'state') found = line.state;
        return true;
      });
      if (found !== undefined) return found;
    }
    return null;
  }

  // ───────────────────────────── append ─────────────────────────────

  append(events: NewJournalEvent[], updateState?: UpdateState | null): Promise<JournalEvent[]> {
    return this.queue.run(async () => {
      if (this.closed) throw new Error('the event journal is closed');
      const segment = this.segments.at(-1);
      if (!segment || this.mustRoll || segment.bytes >= this.segmentBytes) await this.startSegment(this.lastId + 1);
      else this.handle ??= await this.openAppending(segment.file);
      this.closeWhenIdle();
      const active = this.segments.at(-1)!;
      const stored: JournalEvent[] = [];
      const chunks: string[] = [];
      let id = this.lastId;
      for (const event of events) {
        const record: JournalEvent = { id: ++id, at: event.at, type: event.type, key: event.key, data: event.data };
        stored.push(record);
        chunks.push(eventLine(record, this.opts.encryptionKey));
      }
      if (updateState !== undefined) chunks.push(JSON.stringify({ state: updateState }));
      if (chunks.length === 0) return [];
      const buffer = Buffer.from(chunks.join('\n') + '\n', 'utf8');
      await this.writeDurably(active, buffer);
      // On stable storage: now it exists.
      let offset = active.bytes;
      for (const [i, record] of stored.entries()) {
        if (active.events % INDEX_STRIDE === 0) active.index?.push([record.id, offset]);
        active.events++;
        offset += Buffer.byteLength(chunks[i]!, 'utf8') + 1;
        this.tail.remember(record);
      }
      active.bytes += buffer.length;
      active.lastAt = this.now();
      this.lastId = id;
      if (updateState !== undefined) this.state = updateState;
      if (active.bytes >= this.segmentBytes || this.bytes() > this.opts.retention.maxBytes) await this.retainExclusive(this.now());
      return stored;
    });
  }

  /** One write, durable when it returns (O_DSYNC); a failed write is taken back, so the next append never follows garbage. */
  private async writeDurably(segment: Segment, buffer: Buffer): Promise<void> {
    const handle = this.handle!;
    try {
      let written = 0;
      while (written < buffer.length) {
        const length = buffer.length - written;
        written += this.inline.allowed()
          ? this.inline.run(() => fs.writeSync(handle.fd, buffer, written, length))
          : (await handle.write(buffer, written, length)).bytesWritten;
      }
    } catch (err) {
      try {
        await handle.truncate(segment.bytes);
      } catch {
        // Cannot even take it back: the next append starts a new segment (open() cuts the torn line later).
        await handle.close().catch(() => undefined);
        this.handle = undefined;
        this.mustRoll = true;
      }
      throw err;
    }
  }

  /** A new active segment whose first line is the current state (so it survives older segments' removal). */
  private async startSegment(firstId: number): Promise<void> {
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    this.mustRoll = false;
    const file = path.join(this.opts.dir, segmentFileName(firstId));
    const previous = this.segments.at(-1);
    if (previous && previous.firstId === firstId) {
      // The active segment holds no event yet (only state lines): reuse it rather than name two files alike.
      this.handle = await this.openAppending(previous.file);
      return;
    }
    await ensurePrivateDir(this.opts.dir);
    this.handle = await this.openAppending(file);
    const head = Buffer.from(JSON.stringify({ state: this.state }) + '\n', 'utf8');
    const segment: Segment = { firstId, file, bytes: 0, lastAt: this.now(), index: [], events: 0 };
    await this.writeDurably(segment, head);
    segment.bytes = head.length;
    await fsyncDir(this.opts.dir);
    this.segments.push(segment);
  }

  /**
   * An idle journal holds no file open: a thousand idle accounts hold no thousand descriptors, and a data
   * directory can be remounted read-only (the kernel refuses while a file is open for writing).
   */
  private closeWhenIdle(): void {
    clearTimeout(this.idleClose);
    this.idleClose = setTimeout(() => {
      void this.queue.run(async () => {
        await this.handle?.close().catch(() => undefined);
        this.handle = undefined;
      });
    }, IDLE_CLOSE_MS);
    this.idleClose.unref();
  }

  private async openAppending(file: string): Promise<fsp.FileHandle> {
    try {
      return await fsp.open(file, APPEND_DURABLY, PRIVATE_FILE_MODE);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      // The directory went away under us: make it again (the events in memory are still to be written).
      await ensurePrivateDir(this.opts.dir);
      this.opts.log.warn({ dir: this.opts.dir }, 'event journal: the events directory was gone; created it again');
      return fsp.open(file, APPEND_DURABLY, PRIVATE_FILE_MODE);
    }
  }

  // ───────────────────────────── read ─────────────────────────────

  async read(afterId: number, limit: number): Promise<JournalEvent[]> {
    const wanted = Math.max(0, Math.floor(limit));
    if (wanted === 0 || afterId >= this.lastId) return [];
    const from = Math.max(afterId + 1, this.segments[0]?.firstId ?? 1);
    const cached = this.tail.readFrom(from, wanted);
    if (cached) return cached;
    const out: JournalEvent[] = [];
    const lastId = this.lastId;
    for (let i = this.segmentIndexOf(from); i < this.segments.length && out.length < wanted; i++) {
      const segment = this.segments[i]!;
      const index = await this.indexOf(segment);
      let offset = 0;
      for (const [id, at] of index) {
        if (id > from) break;
        offset = at;
      }
      await this.forEachLine(segment, offset, (line) => {
        if (line.kind !== 'event' || line.event.id < from || line.event.id > lastId) return true;
        out.push(line.event);
        return out.length < wanted;
      });
    }
    return out;
  }

  /** The segment that holds `id` (the last one whose first id is ≤ id). */
  private segmentIndexOf(id: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.segments[mid]!.firstId <= id) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private async indexOf(segment: Segment): Promise<Array<[number, number]>> {
    if (segment.index) return segment.index;
    const index: Array<[number, number]> = [];
    let events = 0;
    await this.forEachLine(segment, 0, (line, offset) => {
      if (line.kind !== 'event') return true;
      if (events % INDEX_STRIDE === 0) index.push([line.event.id, offset]);
      events++;
      return true;
    });
    segment.index = index;
    segment.events = events;
    return index;
  }

  /** Calls `visit` for each complete line of `segment` from `start`, until it returns false. */
  private async forEachLine(segment: Segment, start: number, visit: (line: JournalLine, offset: number) => boolean): Promise<void> {
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(segment.file, 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return; // removed by retention meanwhile
      throw err;
    }
    try {
      const end = segment.bytes;
      let position = start;
      let carry = Buffer.alloc(0);
      while (position < end) {
        const chunk = Buffer.alloc(Math.min(READ_CHUNK_BYTES, end - position));
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
        if (bytesRead === 0) break;
        const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
        const dataStart = position - carry.length;
        position += bytesRead;
        let lineStart = 0;
        for (;;) {
          const newline = data.indexOf(0x0a, lineStart);
          if (newline === -1) break;
          const line = parseLine(data.subarray(lineStart, newline), this.opts.encryptionKey);
          if (line && line.kind !== 'sealed' && !visit(line, dataStart + lineStart)) return;
          lineStart = newline + 1;
        }
        carry = Buffer.from(data.subarray(lineStart));
      }
    } finally {
      await handle.close();
    }
  }

  bounds(): { firstId: number; lastId: number } {
    return this.boundsNow();
  }

  /** Every segment's size: events, state lines and seals (a write cut short by a crash is cut off at open). */
  bytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.bytes;
    return total;
  }

  private boundsNow(): { firstId: number; lastId: number } {
    const firstId = Math.min(this.segments[0]?.firstId ?? this.lastId + 1, this.lastId + 1);
    return { firstId, lastId: this.lastId };
  }

  // ───────────────────────────── retention ─────────────────────────────

  applyRetention(now: number): Promise<void> {
    return this.queue.run(() => (this.closed ? Promise.resolve() : this.retainExclusive(now)));
  }

  private async retainExclusive(now: number): Promise<void> {
    const retention = this.opts.retention;
    const active = this.segments.at(-1);
    // Everything is old: a fresh active segment lets the old one go.
    if (active && active.events > 0 && pastMaxAge(active.lastAt, retention, now)) await this.startSegment(this.lastId + 1);
    let removed = 0;
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      if (!retentionDrops(oldest, this.bytes(), retention, now)) break;
      try {
        await fsp.rm(oldest.file, { force: true });
      } catch (err) {
        this.opts.log.warn({ file: oldest.file, code: errnoCode(err) }, 'event journal: could not remove an old segment');
        break;
      }
      this.segments.shift();
      removed++;
    }
    if (removed > 0) {
      await fsyncDir(this.opts.dir).catch(() => undefined);
      this.opts.log.info({ dir: this.opts.dir, segments: removed, firstId: this.boundsNow().firstId }, 'event journal: old events removed by retention');
    }
  }

  async close(): Promise<void> {
    await this.queue.run(async () => {
      this.closed = true;
      clearTimeout(this.idleClose);
      await this.handle?.close().catch(() => undefined);
      this.handle = undefined;
    });
  }
}
