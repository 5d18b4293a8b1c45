/**
 * The reconnect policy handed to mtcute (src/telegram/client-factory.ts): its waits and its connect-attempt
 * limiter never hold a reconnect back longer than RETRY_MAX_DELAY (within mtcute's own 5 s / 10 s ceilings),
 * which is what lets network-faults.test.ts require "back to valid within the backoff cap".
 */
import { describe, expect, it } from 'vitest';
import { connectSanityWindowMs, reconnectionDelayMs } from '../../src/telegram/client-factory.js';
import { recordTotals } from './totals.js';

describe('reconnect policy', () => {
  it('reconnects at once, then doubles from 1 s up to min(RETRY_MAX_DELAY, 5 s)', () => {
    const waits = (cap: number): number[] => {
      const out: number[] = [];
      let previous: number | null = null;
      for (let i = 0; i < 8; i++) out.push((previous = reconnectionDelayMs(previous, cap)));
      return out;
    };
    expect(waits(2000)).toEqual([0, 1000, 2000, 2000, 2000, 2000, 2000, 2000]);
    expect(waits(60_000)).toEqual([0, 1000, 2000, 4000, 5000, 5000, 5000, 5000]);
    // A tiny cap never makes mtcute hammer the DC faster than once a second.
    expect(waits(10)).toEqual([0, 1000, 1000, 1000, 1000, 1000, 1000, 1000]);
    expect(reconnectionDelayMs(null)).toBe(0);
    recordTotals('network reconnect policy', { casesTried: 4 });
  });

  it("keeps mtcute's 5-per-10 s connect limiter by default and relaxes it to the cap (never below 2 s)", () => {
    expect(connectSanityWindowMs(60_000)).toBe(10_000);
    expect(connectSanityWindowMs()).toBe(10_000);
    expect(connectSanityWindowMs(5000)).toBe(5000);
    expect(connectSanityWindowMs(2000)).toBe(2000);
    expect(connectSanityWindowMs(100)).toBe(2000);
    recordTotals('network reconnect policy', { casesTried: 5 });
  });
});
