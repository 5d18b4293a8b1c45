import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileCheckRounds } from '../../src/store/files/file-check-rounds.js';

describe('FileCheckRounds: the session stores’ file checks, in rounds', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function counted(n: number): { calls: number[]; checks: Array<() => Promise<void>> } {
    const calls = new Array<number>(n).fill(0);
    return { calls, checks: calls.map((_, i) => async () => void calls[i]!++) };
  }

  it('checks one store every minIntervalMs', () => {
    const rounds = new FileCheckRounds({ minIntervalMs: 5000, spacingMs: 20 });
    const { calls, checks } = counted(1);
    rounds.add(checks[0]!);
    vi.advanceTimersByTime(4999);
    expect(calls[0]).toBe(0);
    vi.advanceTimersByTime(1);
    expect(calls[0]).toBe(1);
    vi.advanceTimersByTime(20_000);
    expect(calls[0]).toBe(5);
  });

  it('a thousand stores: each once per 20 s round, spread over it on one wake-up a second', () => {
    const rounds = new FileCheckRounds({ minIntervalMs: 5000, spacingMs: 20 });
    const { calls, checks } = counted(1000);
    for (const check of checks) rounds.add(check);
    const perSecond: number[] = [];
    let before = 0;
    for (let s = 0; s < 40; s++) {
      vi.advanceTimersByTime(1000);
      const total = calls.reduce((a, b) => a + b, 0);
      perSecond.push(total - before);
      before = total;
    }
    expect(calls.every((c) => c === 2)).toBe(true); // two rounds of 20 s
    expect(Math.max(...perSecond)).toBeLessThanOrEqual(51);
    expect(Math.min(...perSecond)).toBeGreaterThanOrEqual(49);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('a store removed is not checked again; with none left no timer stays', () => {
    const rounds = new FileCheckRounds({ minIntervalMs: 5000, spacingMs: 20 });
    const { calls, checks } = counted(3);
    const removals = checks.map((check) => rounds.add(check));
    vi.advanceTimersByTime(1700); // the first check of the round is done
    removals[1]!();
    vi.advanceTimersByTime(20_000);
    expect(calls[1]).toBeLessThanOrEqual(1);
    const afterRemoval = calls[1];
    vi.advanceTimersByTime(20_000);
    expect(calls[1]).toBe(afterRemoval);
    expect(calls[0]).toBeGreaterThanOrEqual(8);
    expect(calls[2]).toBeGreaterThanOrEqual(8);
    removals[0]!();
    removals[2]!();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('minIntervalMs 0: never checks', () => {
    const rounds = new FileCheckRounds({ minIntervalMs: 0, spacingMs: 20 });
    const { calls, checks } = counted(1);
    rounds.add(checks[0]!);
    vi.advanceTimersByTime(60_000);
    expect(calls[0]).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
