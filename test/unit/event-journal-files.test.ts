/**
 * The file journal: the shared contract, then what only files can do wrong — a write torn by a crash, an
 * unreadable line in the middle, and kill -9 of a real process appending at full speed: every append that was
 * acknowledged is there after the crash, ids contiguous, and the state found never covers a missing event.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createFileEventJournal } from '../../src/store/files/event-journal.js';
import { InlineWrites } from '../../src/store/files/inline-writes.js';
import { event, journalContract } from './event-journal.contract.js';
import { quietStoreLog as quiet } from '../helpers/store-log.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const tempDir = tempDirs('journal-', 'events');

journalContract('files', {
  async storage() {
    const dir = await tempDir();
    return {
      journal: ({ retention, now }) => createFileEventJournal({ dir, log: quiet, retention, now, segmentBytes: 64 * 1024 }),
      dispose: () => fsp.rm(path.dirname(dir), { recursive: true, force: true }),
    };
  },
});

// The contract above writes inline (the default, on a quiet machine); this one through the thread pool.
journalContract('files, written through the thread pool', {
  async storage() {
    const dir = await tempDir();
    const inlineWrites = new InlineWrites({ turnBudgetMs: 0 });
    return {
      journal: ({ retention, now }) => createFileEventJournal({ dir, log: quiet, retention, now, segmentBytes: 64 * 1024, inlineWrites }),
      dispose: () => fsp.rm(path.dirname(dir), { recursive: true, force: true }),
    };
  },
});

const KEY = new Uint8Array(32).fill(7);
journalContract('files, encrypted at rest', {
  async storage() {
    const dir = await tempDir();
    return {
      journal: ({ retention, now }) => createFileEventJournal({ dir, log: quiet, retention, now, segmentBytes: 64 * 1024, encryptionKey: KEY }),
      dispose: () => fsp.rm(path.dirname(dir), { recursive: true, force: true }),
    };
  },
});

const RETENTION = { maxBytes: 64 * 1024 * 1024, maxAgeMs: 0 };

describe('the file journal at start', () => {
  it('writes nothing at open until the first append (a start with many new journals writes no segment)', async () => {
    const dir = await tempDir();
    const journal = createFileEventJournal({ dir, log: quiet, retention: RETENTION });
    expect(await journal.open()).toMatchObject({ lastId: 0, updateState: null, recentKeys: [] });
    expect(await fsp.readdir(dir)).toEqual([]);
    expect(await journal.read(0, 10)).toEqual([]);
    const [first] = await journal.append([event(1)]);
    expect(first!.id).toBe(1);
    expect(await fsp.readdir(dir)).toEqual(['00000000000000000001.jsonl']);
    await journal.close();
    const again = createFileEventJournal({ dir, log: quiet, retention: RETENTION });
    expect(await again.open()).toMatchObject({ lastId: 1 });
    await again.close();
  });
});

describe('the file journal encrypted at rest', () => {
  it('keeps no message text in clear, and refuses (touching nothing) to open without the key or with another one', async () => {
    const dir = await tempDir();
    const journal = createFileEventJournal({ dir, log: quiet, retention: RETENTION, encryptionKey: KEY });
    await journal.open();
    await journal.append([{ type: 'message.new', key: 'n:1:1', at: '2025-01-01T00:00:00.000Z', data: { message: { id: 1, text: 'a very private text' } } }]);
    await journal.close();
    const [segment] = await fsp.readdir(dir);
    const file = path.join(dir, segment!);
    const bytes = await fsp.readFile(file);
    expect(bytes.toString('utf8')).not.toContain('private');
    for (const key of [undefined, new Uint8Array(32).fill(8)]) {
      const other = createFileEventJournal({ dir, log: quiet, retention: RETENTION, ...(key ? { encryptionKey: key } : {}) });
      await expect(other.open()).rejects.toThrow(/encrypted with/);
      expect(await fsp.readFile(file)).toEqual(bytes);
    }
    const again = createFileEventJournal({ dir, log: quiet, retention: RETENTION, encryptionKey: KEY });
    await again.open();
    expect((await again.read(0, 10))[0]?.data).toEqual({ message: { id: 1, text: 'a very private text' } });
    await again.close();
  });
});

describe('the file journal on disk', () => {
  it('appends through a descriptor opened with O_DSYNC: each write is durable when it returns (no fdatasync follows)', async () => {
    const dir = await tempDir();
    const journal = createFileEventJournal({ dir, log: quiet, retention: RETENTION });
    await journal.open();
    await journal.append([event(1)]);
    const [segment] = await fsp.readdir(dir);
    const file = path.join(dir, segment!);
    // The active segment stays open for a second after an append: find its descriptor and read its flags.
    const flags: number[] = [];
    for (const fd of await fsp.readdir('/proc/self/fd')) {
      const target = await fsp.readlink(`/proc/self/fd/${fd}`).catch(() => '');
      if (target !== file) continue;
      const info = await fsp.readFile(`/proc/self/fdinfo/${fd}`, 'utf8');
      flags.push(parseInt(/^flags:\s+([0-7]+)$/m.exec(info)![1]!, 8));
    }
    expect(flags).toHaveLength(1);
    expect(flags[0]! & fsConstants.O_DSYNC).toBe(fsConstants.O_DSYNC);
    expect(flags[0]! & fsConstants.O_APPEND).toBe(fsConstants.O_APPEND);
    await journal.close();
  });
});

describe('the file journal after damage', () => {
  it('cuts off a write torn by a crash and goes on with the next id', async () => {
    const dir = await tempDir();
    const journal = createFileEventJournal({ dir, log: quiet, retention: RETENTION });
    await journal.open();
    await journal.append([event(1), event(2)], { pts: 2, qts: 0, date: 1, seq: 0 });
    await journal.close();
    const [segment] = await fsp.readdir(dir);
    const file = path.join(dir, segment!);
    const whole = await fsp.readFile(file);
    // A torn write: half of an event line, then half of a state line that would have covered it.
    await fsp.appendFile(file, '{"id":3,"at":"2025-01-01T00:00:00.000Z","type":"message.new","key":"n:1:3","da');

    const again = createFileEventJournal({ dir, log: quiet, retention: RETENTION });
    const opened = await again.open();
    expect(opened).toMatchObject({ lastId: 2, updateState: { pts: 2 } });
    expect(await fsp.readFile(file)).toEqual(whole);
    expect((await again.append([event(3)]))[0]!.id).toBe(3);
    expect((await again.read(0, 10)).map((e) => e.id)).toEqual([1, 2, 3]);
    await again.close();
  });

  it('skips an unreadable line that has good lines after it (not a torn write), keeping those', async () => {
    const dir = await tempDir();
    const journal = createFileEventJournal({ dir, log: quiet, retention: RETENTION });
    await journal.open();
    await journal.append([event(1)]);
    await journal.close();
    const [segment] = await fsp.readdir(dir);
    const file = path.join(dir, segment!);
    await fsp.appendFile(file, 'garbage\u0000line\n' + JSON.stringify({ id: 2, ...event(2) }) + '\n');
    const errors: string[] = [];
    const again = createFileEventJournal({ dir, log: { ...quiet, error: (_o, msg) => errors.push(msg) }, retention: RETENTION });
    expect((await again.open()).lastId).toBe(2);
    expect((await again.read(0, 10)).map((e) => e.id)).toEqual([1, 2]);
    expect(errors.join()).toContain('unreadable');
    await again.close();
  });
});

describe('kill -9 of a process appending to the journal', () => {
  it('every acknowledged append survives, ids stay contiguous, the state never covers a missing event', async () => {
    const dir = await tempDir();
    const writer = path.join(path.dirname(fileURLToPath(import.meta.url)), 'journal-writer.ts');
    let acknowledged = 0;
    const KILLS = 8;
    for (let round = 0; round < KILLS; round++) {
      const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let lastAck = 0;
      let firstAck!: () => void;
      const writing = new Promise<void>((resolve) => (firstAck = resolve));
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) if (/^\d+$/.test(line)) lastAck = Number(line);
        if (lastAck > 0) firstAck();
      });
      // Once it writes (its start-up is slow on a busy machine), let it go on a while, then kill it at a random moment.
      await Promise.race([writing, new Promise((resolve) => setTimeout(resolve, 30_000))]);
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 500));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      acknowledged = Math.max(acknowledged, lastAck);

      const journal = createFileEventJournal({ dir, log: quiet, retention: RETENTION });
      const opened = await journal.open();
      expect(opened.lastId, `round ${round}: acknowledged ${lastAck}`).toBeGreaterThanOrEqual(lastAck);
      const all = await journal.read(0, 1_000_000);
      expect(all.map((e) => e.id)).toEqual(Array.from({ length: opened.lastId }, (_, i) => i + 1));
      // The writer's state after event n is {pts: n}: it may lag the events, never lead them.
      expect(opened.updateState?.pts ?? 0).toBeLessThanOrEqual(opened.lastId);
      await journal.close();
    }
    expect(acknowledged).toBeGreaterThan(KILLS);
  }, 60_000);
});
