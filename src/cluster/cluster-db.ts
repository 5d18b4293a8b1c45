/**
 * The cluster's SQL: instance incarnations and their leases, account leases with fencing epochs, and the
 * status snapshots owners publish. Every decision that must be atomic is one statement, judged by the
 * database's own clock (clock_timestamp()), never by an instance's.
 */
import type { AccountStatus } from '../account/types.js';
import type { Pool } from '../store/postgres/pool.js';

/** LISTEN/NOTIFY channel: "look again now" (an instance joined, left, or let an account go). */
export const CLUSTER_CHANNEL = 'tgs_cluster';

export interface LiveInstance {
  incarnation: string;
  instanceId: string;
  url: string | null;
}

export interface LeaseRow {
  accountId: string;
  holder: string | null;
  epoch: number;
}

export interface ClusterView {
  /** Instances whose lease is unexpired, by incarnation. */
  live: LiveInstance[];
  leases: Map<string, LeaseRow>;
  /** Every account id. */
  accounts: string[];
}

const ms = (value: number): string => `${Math.max(0, Math.round(value))} milliseconds`;

export class ClusterDb {
  constructor(private readonly pool: Pool) {}

  /** A new incarnation of this instance, with a lease of `ttlMs`. */
  async register(incarnation: string, instanceId: string, url: string | null, ttlMs: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO tgs_instances (incarnation, instance_id, url, expires_at) VALUES ($1, $2, $3, clock_timestamp() + $4::interval)`,
      [incarnation, instanceId, url, ms(ttlMs)],
    );
    await this.notify();
  }

  /** Extends the incarnation's lease if it has not expired; false when it had (the incarnation is over). */
  async heartbeat(incarnation: string, ttlMs: number): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE tgs_instances SET expires_at = clock_timestamp() + $2::interval WHERE incarnation = $1 AND expires_at > clock_timestamp()`,
      [incarnation, ms(ttlMs)],
    );
    return result.rowCount === 1;
  }

  /** The live instances, every account and its lease. */
  async view(): Promise<ClusterView> {
    const [instances, accounts] = await Promise.all([
      this.pool.query<{ incarnation: string; instance_id: string; url: string | null }>(
        'SELECT incarnation, instance_id, url FROM tgs_instances WHERE expires_at > clock_timestamp() ORDER BY instance_id',
      ),
      this.pool.query<{ id: string; holder: string | null; epoch: string | null }>(
        'SELECT a.id, l.holder, l.epoch FROM tgs_accounts a LEFT JOIN tgs_account_leases l ON l.account_id = a.id ORDER BY a.id',
      ),
    ]);
    const leases = new Map<string, LeaseRow>();
    for (const row of accounts.rows) leases.set(row.id, { accountId: row.id, holder: row.holder, epoch: Number(row.epoch ?? 0) });
    return {
      live: instances.rows.map((r) => ({ incarnation: r.incarnation, instanceId: r.instance_id, url: r.url })),
      leases,
      accounts: accounts.rows.map((r) => r.id),
    };
  }

  /**
   * Takes the account for `incarnation` when nobody holds it, or its holder's lease expired more than
   * `graceMs` ago (by then the former holder has closed its connections, or Telegram has). Returns the new
   * epoch, or undefined when someone else holds it (or our own lease has run out).
   */
  async acquire(accountId: string, incarnation: string, graceMs: number): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ epoch: string }>(
      `INSERT INTO tgs_account_leases AS l (account_id, holder, epoch, acquired_at)
         SELECT $1, $2, 1, clock_timestamp()
         WHERE EXISTS (SELECT 1 FROM tgs_instances WHERE incarnation = $2 AND expires_at > clock_timestamp())
           AND EXISTS (SELECT 1 FROM tgs_accounts WHERE id = $1)
       ON CONFLICT (account_id) DO UPDATE SET holder = $2, epoch = l.epoch + 1, acquired_at = clock_timestamp()
         WHERE l.holder IS NULL
            OR NOT EXISTS (SELECT 1 FROM tgs_instances i WHERE i.incarnation = l.holder AND i.expires_at > clock_timestamp() - $3::interval)
       RETURNING l.epoch`,
      [accountId, incarnation, ms(graceMs)],
    );
    return rows[0] ? Number(rows[0].epoch) : undefined;
  }

  /** Lets go of the account (its connections are already closed): the next holder may take it at once. */
  async release(accountId: string, incarnation: string, epoch: number): Promise<void> {
    await this.pool.query('UPDATE tgs_account_leases SET holder = NULL WHERE account_id = $1 AND holder = $2 AND epoch = $3', [accountId, incarnation, epoch]);
  }

  /** The incarnation leaves: its accounts are free and it is no longer live (graceful shutdown). */
  async withdraw(incarnation: string): Promise<void> {
    await this.pool.query('UPDATE tgs_account_leases SET holder = NULL WHERE holder = $1', [incarnation]);
    await this.pool.query('DELETE FROM tgs_instances WHERE incarnation = $1', [incarnation]);
    await this.notify();
  }

  /** Forgets incarnations whose lease expired long ago. */
  async sweep(olderThanMs: number): Promise<void> {
    await this.pool.query('DELETE FROM tgs_instances WHERE expires_at < clock_timestamp() - $1::interval', [ms(olderThanMs)]);
  }

  /** Stores the statuses the holder sees, for instances that answer without the holder (lists, failover). */
  async publishStatuses(incarnation: string, statuses: Array<{ accountId: string; epoch: number; status: AccountStatus }>): Promise<void> {
    if (statuses.length === 0) return;
    await this.pool.query(
      `UPDATE tgs_account_leases l SET status = s.status
         FROM jsonb_to_recordset($2::jsonb) AS s(account_id text, epoch bigint, status jsonb)
        WHERE l.account_id = s.account_id AND l.holder = $1 AND l.epoch = s.epoch`,
      [incarnation, JSON.stringify(statuses.map((s) => ({ account_id: s.accountId, epoch: s.epoch, status: s.status })))],
    );
  }

  /** The published statuses of these accounts, and whether their holder is live. */
  async statuses(accountIds: string[]): Promise<Map<string, { status: AccountStatus | null; holderLive: boolean }>> {
    const { rows } = await this.pool.query<{ account_id: string; status: AccountStatus | null; live: boolean }>(
      `SELECT l.account_id, l.status, EXISTS (SELECT 1 FROM tgs_instances i WHERE i.incarnation = l.holder AND i.expires_at > clock_timestamp()) AS live
         FROM tgs_account_leases l WHERE l.account_id = ANY($1::text[])`,
      [accountIds],
    );
    return new Map(rows.map((r) => [r.account_id, { status: r.status, holderLive: r.live }]));
  }

  /** The live holder of an account and where it is reached (undefined: nobody live holds it). */
  async ownerOf(accountId: string): Promise<LiveInstance | undefined> {
    const { rows } = await this.pool.query<{ incarnation: string; instance_id: string; url: string | null }>(
      `SELECT i.incarnation, i.instance_id, i.url FROM tgs_account_leases l JOIN tgs_instances i ON i.incarnation = l.holder
        WHERE l.account_id = $1 AND i.expires_at > clock_timestamp()`,
      [accountId],
    );
    const row = rows[0];
    return row ? { incarnation: row.incarnation, instanceId: row.instance_id, url: row.url } : undefined;
  }

  async notify(): Promise<void> {
    await this.pool.query(`SELECT pg_notify('${CLUSTER_CHANNEL}', '')`);
  }
}
