/**
 * Which live instance should hold an account: rendezvous (highest random weight) hashing. Every instance
 * computes the same answer from the same set of live instances, accounts spread evenly, and when an
 * instance joins or leaves only the accounts that move to or from it change hands.
 */
import { createHash } from 'node:crypto';

function weight(accountId: string, instanceId: string): bigint {
  return createHash('sha256').update(accountId).update('\0').update(instanceId).digest().readBigUInt64BE(0);
}

/** The instance (by id) the account belongs on; undefined when no instance is live. */
export function targetInstance(accountId: string, liveInstanceIds: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1n;
  for (const instanceId of liveInstanceIds) {
    const w = weight(accountId, instanceId);
    if (w > bestWeight || (w === bestWeight && best !== undefined && instanceId < best)) {
      best = instanceId;
      bestWeight = w;
    }
  }
  return best;
}
