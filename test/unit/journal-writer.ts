/**
 * The child of event-journal-files.test.ts: appends to the journal in `argv[2]` as fast as it can, each
 * batch followed by the state {pts: last id}, and prints each acknowledged last id on its own line.
 */
import { createFileEventJournal } from '../../src/store/files/event-journal.js';

const dir = process.argv[2]!;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const journal = createFileEventJournal({ dir, log: quiet, retention: { maxBytes: 64 * 1024 * 1024, maxAgeMs: 0 }, segmentBytes: 64 * 1024 });
const opened = await journal.open();
let next = opened.lastId + 1;
for (;;) {
  const size = 1 + Math.floor(Math.random() * 20);
  const events = Array.from({ length: size }, (_, i) => ({ type: 'message.new', key: `n:1:${next + i}`, at: new Date().toISOString(), data: { n: next + i, pad: 'x'.repeat(Math.floor(Math.random() * 300)) } }));
  const stored = await journal.append(events, { pts: next + size - 1, qts: 0, date: 0, seq: 0 });
  next = stored.at(-1)!.id + 1;
  process.stdout.write(`${stored.at(-1)!.id}\n`);
}
