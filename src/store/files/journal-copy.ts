/**
 * A file journal (event-journal.ts) read or written whole, for migrate-store: every event as it is kept —
 * sealed lines stay sealed, so no key is needed — with the update state, where the dedupe keys start (the
 * last reset), and when its events were written (a segment's mtime), so retention by age goes on as before.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir, fsyncDir, writeFileAtomic } from '@telegram-service/durable-files';
import { errnoCode } from '../errors.js';
import { parseLine, storedLine, type JournalDump, type StoredEvent } from '../journal-records.js';
import type { UpdateState } from '../types.js';
import { MAX_SEGMENT_BYTES, SEGMENT_NAME, segmentFileName } from './event-journal.js';

/** The journal in `dir` (an empty one when there is none). A line cut short by a crash is left out, as open() would. */
export async function dumpFileJournal(dir: string): Promise<JournalDump> {
  let names: string[];
  try {
    names = (await fsp.readdir(dir)).filter((name) => SEGMENT_NAME.test(name)).sort();
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    names = [];
  }
  const events: StoredEvent[] = [];
  let firstId: number | undefined;
  let lastId = 0;
  let updateState: UpdateState | null = null;
  let keysFrom = 0;
  for (const name of names) {
    const file = path.join(dir, name);
    const segmentFirst = Number(SEGMENT_NAME.exec(name)![1]);
    firstId ??= segmentFirst;
    lastId = Math.max(lastId, segmentFirst - 1);
    const [bytes, stat] = await Promise.all([fsp.readFile(file), fsp.stat(file)]);
    const writtenAt = Math.floor(stat.mtimeMs);
    for (const text of bytes.toString('utf8').split('\n')) {
      const line = parseLine(Buffer.from(text, 'utf8'), undefined);
      if (line?.kind === 'state') {
        updateState = line.state;
        if (line.state === null) keysFrom = lastId;
        continue;
      }
      const id = line?.kind === 'event' ? line.event.id : line?.id;
      if (!line || id === undefined || id <= lastId) continue;
      events.push(line.kind === 'event' ? { id, writtenAt, event: line.event } : { id, writtenAt, sealed: line.sealed });
      lastId = id;
    }
  }
  return { firstId: Math.min(firstId ?? 1, lastId + 1), lastId, updateState, keysFrom, events };
}

/**
 * Writes `dump` as the journal of `dir` (which holds none): segments of at most MAX_SEGMENT_BYTES named after
 * their first id, a reset line where the keys restart, the update state last; each segment's mtime is when its
 * newest event was written.
 */
export async function writeFileJournal(dir: string, dump: JournalDump): Promise<void> {
  await ensurePrivateDir(dir);
  const segments: Array<{ firstId: number; lines: string[]; bytes: number; writtenAt: number }> = [];
  let current = { firstId: dump.events[0]?.id ?? dump.lastId + 1, lines: [] as string[], bytes: 0, writtenAt: Date.now() };
  const push = (line: string): void => {
    current.lines.push(line);
    current.bytes += Buffer.byteLength(line) + 1;
  };
  let reset = dump.keysFrom === 0;
  for (const event of dump.events) {
    if (!reset && event.id > dump.keysFrom) {
      push(JSON.stringify({ state: null }));
      reset = true;
    }
    if (current.bytes >= MAX_SEGMENT_BYTES) {
      segments.push(current);
      current = { firstId: event.id, lines: [], bytes: 0, writtenAt: event.writtenAt };
    }
    push(storedLine(event));
    current.writtenAt = event.writtenAt;
  }
  if (!reset) push(JSON.stringify({ state: null }));
  // The state covers every event before it; a segment is never empty (its name alone would not say the last id).
  if (dump.updateState !== null || current.lines.length === 0) push(JSON.stringify({ state: dump.updateState }));
  segments.push(current);
  for (const segment of segments) {
    const file = path.join(dir, segmentFileName(segment.firstId));
    await writeFileAtomic(file, segment.lines.join('\n') + '\n');
    const at = new Date(segment.writtenAt);
    await fsp.utimes(file, at, at);
  }
  await fsyncDir(dir);
}
