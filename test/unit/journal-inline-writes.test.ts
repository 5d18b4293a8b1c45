/**
 * Journal appends written on the event loop's thread (inline-writes.ts): the bounds on when they may be
 * (a budget per turn, a cooldown after a slow write), that an inline append does not wait for a busy thread
 * pool while a pooled one does, and that both ways take a failed write back on a real full disk.
 */
import { pbkdf2 } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFileEventJournal } from '../../src/store/files/event-journal.js';
import { InlineWrites } from '../../src/store/files/inline-writes.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { event } from './event-journal.contract.js';
import { quietStoreLog as quiet } from '../helpers/store-log.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const RETENTION = { maxBytes: 64 * 1024 * 1024, maxAgeMs: 0 };
const tempDir = tempDirs('journal-inline-', 'events');

/** Clocks and turns the test moves by hand. */
function manual(opts: { turnBudgetMs?: number; slowWriteMs?: number; stallMs?: number; slowCooldownMs?: number } = {}) {
  const clock = { wall: 1_000_000, mono: 0 };
  let turnEnds: Array<() => void> = [];
  const writes = new InlineWrites({ ...opts, now: () => clock.wall, elapsed: () => clock.mono, afterTurn: (fn) => turnEnds.push(fn) });
  const write = (ms: number): number => writes.run(() => ((clock.mono += ms), ms));
  const endTurn = (): void => {
    const ends = turnEnds;
    turnEnds = [];
    for (const end of ends) end();
  };
  return { writes, clock, write, endTurn };
}

describe('InlineWrites', () => {
  it('allows inline writes in a turn until they have taken the budget, and again in the next turn', () => {
    const { writes, write, endTurn } = manual({ turnBudgetMs: 2, slowWriteMs: 10, stallMs: 100 });
    expect(writes.allowed()).toBe(true);
    write(0.5);
    write(1);
    expect(writes.allowed()).toBe(true); // 1.5 of 2 ms spent
    write(0.6);
    expect(writes.allowed()).toBe(false);
    endTurn();
    expect(writes.allowed()).toBe(true);
  });

  it('sends every write to the pool for the cooldown once writes are typically slow, then tries inline again', () => {
    const { writes, clock, write, endTurn } = manual({ turnBudgetMs: 100, slowWriteMs: 2, stallMs: 50, slowCooldownMs: 10_000 });
    // Slow writes among quick ones are not a slow disk, even a few in a row, even long ones under the stall.
    for (const ms of [0.3, 0.3, 8, 0.3, 12, 9, 0.3, 0.3, 30, 0.3, 5, 5, 5, 0.3, 0.3, 0.3, 0.3]) write(ms);
    endTurn();
    expect(writes.allowed()).toBe(true);
    // Writes that keep taking 5 ms are.
    let inline = 0;
    while (writes.allowed() && inline < 10) {
      write(5);
      inline++;
    }
    expect(writes.allowed()).toBe(false);
    expect(inline).toBeLessThanOrEqual(8);
    clock.wall += 9_999;
    expect(writes.allowed()).toBe(false);
    clock.wall += 1;
    expect(writes.allowed()).toBe(true);
    // A fresh count after the cooldown: one quick write, or a few slow ones, keep inline allowed.
    write(0.3);
    for (let i = 0; i < 7; i++) write(5);
    expect(writes.allowed()).toBe(true);
  });

  it('sends every write to the pool for the cooldown after one stalled write', () => {
    const { writes, clock, write } = manual({ turnBudgetMs: 1_000, slowWriteMs: 2, stallMs: 50, slowCooldownMs: 10_000 });
    write(0.3);
    write(60);
    expect(writes.allowed()).toBe(false);
    clock.wall += 10_000;
    expect(writes.allowed()).toBe(true);
  });

  it('accounts for a write that throws, and passes on what it threw', () => {
    const { writes, clock, endTurn } = manual({ turnBudgetMs: 1, slowWriteMs: 50, stallMs: 100 });
    const failing = (): never => {
      clock.mono += 1.5;
      throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
    };
    expect(() => writes.run(failing)).toThrow('no space');
    expect(writes.allowed()).toBe(false);
    endTurn();
    expect(writes.allowed()).toBe(true);
  });

  it('ends a turn with setImmediate by default', async () => {
    const writes = new InlineWrites({ turnBudgetMs: 1, slowWriteMs: 1_000, stallMs: 1_000 });
    writes.run(() => {
      const until = performance.now() + 2;
      while (performance.now() < until); // a write that takes 2 ms
    });
    expect(writes.allowed()).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes.allowed()).toBe(true);
  });
});

/**
 * Occupies every thread of libuv's pool (a few hundred milliseconds of hashing each): `first` resolves when a
 * thread is free again, `all` when every one is.
 */
function busyPool(): { first: Promise<void>; all: Promise<void> } {
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const jobs = Array.from({ length: threads }, () => new Promise<void>((resolve, reject) => pbkdf2('p', 's', 400_000, 32, 'sha512', (err) => (err ? reject(err) : resolve()))));
  return { first: Promise.race(jobs), all: Promise.all(jobs).then(() => undefined) };
}

describe('the file journal with inline writes', () => {
  for (const way of ['inline', 'through the pool'] as const) {
    it(`appends ${way === 'inline' ? 'without waiting for' : 'after'} a busy thread pool (written ${way})`, { timeout: 30_000 }, async () => {
      const inlineWrites = new InlineWrites(way === 'inline' ? { turnBudgetMs: 1_000, slowWriteMs: 1_000, stallMs: 1_000 } : { turnBudgetMs: 0 });
      const journal = createFileEventJournal({ dir: await tempDir(), log: quiet, retention: RETENTION, inlineWrites });
      await journal.open();
      await journal.append([event(1)]); // the segment is created and open for appending
      const order: string[] = [];
      const pool = busyPool();
      const threadFree = pool.first.then(() => order.push('a pool thread free'));
      const appended = journal.append([event(2)]).then(() => order.push('appended'));
      await Promise.all([threadFree, appended, pool.all]);
      expect(order).toEqual(way === 'inline' ? ['appended', 'a pool thread free'] : ['a pool thread free', 'appended']);
      expect((await journal.read(0, 10)).map((e) => e.id)).toEqual([1, 2]);
      await journal.close();
    });
  }

  for (const way of ['inline', 'through the pool'] as const) {
    it(`takes a write that found the disk full back, and appends once there is room (written ${way})`, { timeout: 60_000 }, async () => {
      const disk = await mountTmpfs(512);
      try {
        const dir = path.join(disk.dir, 'events');
        const inlineWrites = new InlineWrites(way === 'inline' ? { turnBudgetMs: 1_000, slowWriteMs: 1_000, stallMs: 1_000 } : { turnBudgetMs: 0 });
        const journal = createFileEventJournal({ dir, log: quiet, retention: RETENTION, inlineWrites });
        await journal.open();
        await journal.append([event(1), event(2)]);
        const [segment] = await fsp.readdir(dir);
        const file = path.join(dir, segment!);
        const sizeBefore = fs.statSync(file).size;
        const filler = disk.fill();
        // Bigger than a page, so it cannot fit in the segment's last page either.
        await expect(journal.append([event(3, undefined, 16 * 1024)])).rejects.toMatchObject({ code: 'ENOSPC' });
        expect(fs.statSync(file).size).toBe(sizeBefore);
        fs.rmSync(filler);
        await journal.append([event(3, undefined, 16 * 1024), event(4)]);
        await journal.close();
        const again = createFileEventJournal({ dir, log: quiet, retention: RETENTION, inlineWrites });
        expect(await again.open()).toMatchObject({ firstId: 1, lastId: 4 });
        expect((await again.read(0, 10)).map((e) => e.id)).toEqual([1, 2, 3, 4]);
        await again.close();
      } finally {
        await disk.dispose();
      }
    });
  }
});
