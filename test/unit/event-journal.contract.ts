/**
 * The behaviour every EventJournal backend must have (src/store/types.ts). A backend's test file calls
 * `journalContract(name, backend)`: `backend.storage()` gives a fresh, empty place to keep a journal and a way
 * to open journal instances on it (a second instance = after a restart).
 */
import { describe, expect, it } from 'vitest';
import type { EventJournal, JournalRetention, NewJournalEvent, UpdateState } from '../../src/store/types.js';

export interface JournalBackend {
  storage(): Promise<{
    journal(opts: { retention: JournalRetention; now: () => number }): EventJournal;
    dispose(): Promise<void>;
  }>;
}

const BIG: JournalRetention = { maxBytes: 64 * 1024 * 1024, maxAgeMs: 0 };

export function event(i: number, at = '2025-01-01T00:00:00.000Z', size = 0): NewJournalEvent {
  return { type: 'message.new', key: `n:1:${i}`, at, data: { message: { id: i, text: 'x'.repeat(size) } } };
}

const state = (pts: number): UpdateState => ({ pts, qts: 0, date: 1_700_000_000 + pts, seq: 0 });

export function journalContract(name: string, backend: JournalBackend): void {
  describe(`EventJournal contract: ${name}`, () => {
    it('starts empty, appends with ids 1, 2, 3…, reads after an id with a limit', async () => {
      const place = await backend.storage();
      try {
        const journal = place.journal({ retention: BIG, now: Date.now });
        expect(await journal.open()).toEqual({ firstId: 1, lastId: 0, updateState: null, recentKeys: [] });
        const stored = await journal.append([event(1), event(2), event(3)]);
        expect(stored.map((e) => e.id)).toEqual([1, 2, 3]);
        expect(stored[0]).toEqual({ id: 1, ...event(1) });
        expect(journal.bounds()).toEqual({ firstId: 1, lastId: 3 });
        expect((await journal.read(0, 10)).map((e) => e.id)).toEqual([1, 2, 3]);
        expect((await journal.read(1, 1)).map((e) => e.id)).toEqual([2]);
        expect(await journal.read(3, 10)).toEqual([]);
        expect(await journal.append([])).toEqual([]);
        await journal.close();
      } finally {
        await place.dispose();
      }
    });

    it('keeps events, the newest state and the recent keys across a reopen; ids are never reused', async () => {
      const place = await backend.storage();
      try {
        const first = place.journal({ retention: BIG, now: Date.now });
        await first.open();
        await first.append([event(1), event(2)], state(10));
        await first.append([event(3)]);
        await first.close();

        const second = place.journal({ retention: BIG, now: Date.now });
        const opened = await second.open();
        expect(opened).toMatchObject({ firstId: 1, lastId: 3, updateState: state(10) });
        expect(opened.recentKeys).toEqual(['n:1:1', 'n:1:2', 'n:1:3']);
        expect((await second.append([event(4)], state(11)))[0]!.id).toBe(4);
        await second.close();

        const third = place.journal({ retention: BIG, now: Date.now });
        expect((await third.open()).updateState).toEqual(state(11));
        expect((await third.read(0, 10)).map((e) => e.data)).toEqual([1, 2, 3, 4].map((i) => event(i).data));
        await third.close();
      } finally {
        await place.dispose();
      }
    });

    it('a reset (state null) forgets the state and the keys; ids go on', async () => {
      const place = await backend.storage();
      try {
        const journal = place.journal({ retention: BIG, now: Date.now });
        await journal.open();
        await journal.append([event(1)], state(5));
        await journal.append([], null);
        await journal.append([event(2)]);
        await journal.close();
        const again = place.journal({ retention: BIG, now: Date.now });
        const opened = await again.open();
        expect(opened.updateState).toBeNull();
        expect(opened.recentKeys).toEqual(['n:1:2']);
        expect(opened.lastId).toBe(2);
        await again.close();
      } finally {
        await place.dispose();
      }
    });

    it('concurrent appends are stored in call order, each id once', async () => {
      const place = await backend.storage();
      try {
        const journal = place.journal({ retention: BIG, now: Date.now });
        await journal.open();
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => journal.append([event(i * 2), event(i * 2 + 1)])));
        expect(results.flat().map((e) => e.id)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
        expect((await journal.read(0, 100)).map((e) => (e.data.message as { id: number }).id)).toEqual(Array.from({ length: 40 }, (_, i) => i));
        await journal.close();
      } finally {
        await place.dispose();
      }
    });

    it('retention by size drops the oldest events, keeps reading from the first retained id, and keeps the state', async () => {
      const place = await backend.storage();
      try {
        const retention = { maxBytes: 256 * 1024, maxAgeMs: 0 };
        const journal = place.journal({ retention, now: Date.now });
        await journal.open();
        for (let i = 0; i < 200; i++) await journal.append([event(i, undefined, 4000)], state(i));
        const { firstId, lastId } = journal.bounds();
        expect(lastId).toBe(200);
        expect(firstId).toBeGreaterThan(1);
        expect(journal.bytes()).toBeGreaterThan(0);
        expect(journal.bytes()).toBeLessThanOrEqual(retention.maxBytes);
        const read = await journal.read(0, 1000);
        expect(read[0]!.id).toBe(firstId);
        expect(read.at(-1)!.id).toBe(200);
        expect(read.map((e) => e.id)).toEqual(Array.from({ length: 200 - firstId + 1 }, (_, i) => firstId + i));
        await journal.close();
        const again = place.journal({ retention, now: Date.now });
        const kept = journal.bytes();
        const opened = await again.open();
        expect(opened.updateState).toEqual(state(199));
        expect(opened.firstId).toBe(firstId);
        expect(again.bytes()).toBe(kept);
        await again.close();
      } finally {
        await place.dispose();
      }
    });

    it('retention by age drops events older than maxAge, even when nothing new comes; bytes() follows what it holds', async () => {
      const place = await backend.storage();
      try {
        let now = 1_000_000;
        const retention = { maxBytes: 64 * 1024 * 1024, maxAgeMs: 60_000 };
        const journal = place.journal({ retention, now: () => now });
        await journal.open();
        const empty = journal.bytes();
        await journal.append([event(1), event(2)], state(2));
        const two = journal.bytes();
        expect(two).toBeGreaterThan(empty);
        now += 120_000;
        await journal.applyRetention(now);
        expect(journal.bounds()).toEqual({ firstId: 3, lastId: 2 });
        expect(journal.bytes()).toBeLessThan(two);
        expect(await journal.read(0, 10)).toEqual([]);
        const none = journal.bytes();
        expect((await journal.append([event(3, undefined, 1000)]))[0]!.id).toBe(3);
        const kept = journal.bytes();
        expect(kept).toBeGreaterThan(none + 1000);
        await journal.close();
        const again = place.journal({ retention, now: () => now });
        expect(await again.open()).toMatchObject({ firstId: 3, lastId: 3, updateState: state(2) });
        expect(again.bytes()).toBe(kept);
        await again.close();
      } finally {
        await place.dispose();
      }
    });
  });
}
