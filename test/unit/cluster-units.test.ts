/** The cluster's arithmetic: assignment spread and movement, and the timeline that keeps a frozen owner off Telegram. */
import { describe, expect, it } from 'vitest';
import { targetInstance } from '../../src/cluster/assignment.js';
import { leaseTimings } from '../../src/cluster/ownership.js';
import { keepaliveForLease } from '../../src/telegram/keepalive.js';

const accounts = Array.from({ length: 3000 }, (_, i) => `acc${i}`);

describe('rendezvous assignment', () => {
  it('spreads accounts evenly and is the same on every instance', () => {
    const live = ['a', 'b', 'c'];
    const counts = new Map<string, number>();
    for (const id of accounts) {
      const target = targetInstance(id, live)!;
      expect(targetInstance(id, [...live].reverse())).toBe(target);
      counts.set(target, (counts.get(target) ?? 0) + 1);
    }
    for (const n of live) expect(counts.get(n)!).toBeGreaterThan(900);
    expect(targetInstance('x', [])).toBeUndefined();
  });

  it('moves only what must move when an instance joins or leaves', () => {
    const before = new Map(accounts.map((id) => [id, targetInstance(id, ['a', 'b', 'c'])!]));
    const joined = new Map(accounts.map((id) => [id, targetInstance(id, ['a', 'b', 'c', 'd'])!]));
    for (const id of accounts) if (joined.get(id) !== before.get(id)) expect(joined.get(id)).toBe('d');
    const left = new Map(accounts.map((id) => [id, targetInstance(id, ['a', 'c'])!]));
    for (const id of accounts) if (before.get(id) !== 'b') expect(left.get(id)).toBe(before.get(id));
  });
});

describe('lease timeline', () => {
  it.each([4000, 5000, 6000, 10_000, 60_000])('LEASE_TTL %i ms: a frozen owner is disconnected before its accounts can be taken', (ttl) => {
    const t = leaseTimings(ttl);
    const keepalive = keepaliveForLease(ttl);
    // Frozen at 0: Telegram closes its connections by the delay it asked for; its lease was last renewed
    // no earlier than -heartbeat, so nobody takes its accounts before ttl - heartbeat + grace.
    const disconnectedBy = keepalive.disconnectDelaySeconds * 1000;
    const takenNoEarlierThan = ttl - t.heartbeatMs + t.graceMs;
    expect(disconnectedBy).toBeLessThan(takenNoEarlierThan);
    // A live owner closes its connections before its lease can expire, with heartbeats to spare.
    expect(t.closeMarginMs).toBeGreaterThan(0);
    expect(ttl - t.closeMarginMs).toBeGreaterThan(2 * t.heartbeatMs);
    // Pings come often enough that a healthy connection is never dropped by its own delay.
    expect(keepalive.pingIntervalMs * 2).toBeLessThan(disconnectedBy);
  });
});
