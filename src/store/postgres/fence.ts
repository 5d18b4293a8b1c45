/**
 * Fencing (ARCHITECTURE.md, the cluster): in a cluster every write of an account carries the lease it is
 * made under (holder incarnation + epoch) and commits only while that is still the account's lease and its
 * instance's lease has not expired. The transaction share-locks the lease row first, so a take-over (which
 * updates that row) waits for this commit, and a late write of a former owner finds the lease moved on and
 * commits nothing. A refused write is never retried: the owner is told (onFenced) and lets the account go.
 */
import type pg from 'pg';
import { inTransaction, type Pool } from './pool.js';

/** The lease a cluster member holds for an account: every write must still hold it. */
export interface Fence {
  /** The holding instance incarnation. */
  holder: string;
  epoch: number;
}

/** Where an account's writes go, and under which lease. */
export interface FencedTarget {
  pool: Pool;
  accountId: string;
  /**
   * The account's current lease (cluster). Absent: writes are not fenced (one process, tools, tests).
   * Returning undefined: the lease is gone and nothing is written.
   */
  fence?: () => Fence | undefined;
  /** A write was refused because the lease is no longer this instance's. */
  onFenced?: () => void;
}

export class FencedError extends Error {
  constructor() {
    super('the account lease is no longer held by this instance');
    this.name = 'FencedError';
  }
}

const LOCK_LEASE = `
  SELECT 1 FROM tgs_account_leases l JOIN tgs_instances i ON i.incarnation = l.holder
  WHERE l.account_id = $1 AND l.holder = $2 AND l.epoch = $3 AND i.expires_at > clock_timestamp()
  FOR SHARE OF l`;

/**
 * Runs `work` in one transaction that commits only under the target's lease (unfenced when it has none).
 * A refused fence throws FencedError after telling the target (onFenced).
 */
export async function fencedTransaction<T>(target: FencedTarget, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  try {
    const fence = target.fence ? target.fence() : null;
    if (fence === undefined) throw new FencedError();
    return await inTransaction(target.pool, async (client) => {
      if (fence) {
        const held = await client.query(LOCK_LEASE, [target.accountId, fence.holder, fence.epoch]);
        if (held.rowCount === 0) throw new FencedError();
      }
      return work(client);
    });
  } catch (err) {
    if (err instanceof FencedError) target.onFenced?.();
    throw err;
  }
}
