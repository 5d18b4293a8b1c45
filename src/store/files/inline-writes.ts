/**
 * When a durable append may be written on the event loop's own thread instead of through libuv's thread pool.
 *
 * A write through the pool costs two thread wake-ups around the system call: a pool thread's, then the main
 * thread's. On a busy machine each waits for a core. Measured under the events bench on 2 cores: the round
 * trip cost 0.2 ms at p50 and 2.5 ms at p99 on tmpfs, where the O_DSYNC write itself takes 0.01 ms (0.3 ms
 * on the disk). Written inline, the write costs only itself, but it blocks the loop while it lasts. So inline
 * writes are bounded:
 * - per event-loop turn: once this process's inline writes in the current turn have taken `turnBudgetMs`, the
 *   rest of the turn's writes go through the pool (a thousand accounts committing in one turn never block the
 *   loop for a thousand disk flushes);
 * - when the storage is slow: once inline writes typically take more than `slowWriteMs` (half of the last
 *   `RECENT_WRITES` did: single slow writes, even a few in a row, happen on every disk — a moving average
 *   tripped on them, and a virtual disk's flushes sent most of the events bench's appends through the pool),
 *   or one took more than `stallMs` (a stalled disk), every write goes through the pool for `slowCooldownMs`;
 *   then inline is tried again, from a fresh count.
 */

export interface InlineWriteOptions {
  turnBudgetMs?: number;
  slowWriteMs?: number;
  stallMs?: number;
  slowCooldownMs?: number;
  /** Wall clock (ms), for the cooldown. */
  now?: () => number;
  /** A monotonic clock (ms), for timing writes. */
  elapsed?: () => number;
  /** Calls `fn` once the current turn is over (default setImmediate). */
  afterTurn?: (fn: () => void) => void;
}

const TURN_BUDGET_MS = 2;
const SLOW_WRITE_MS = 2;
const STALL_MS = 50;
const SLOW_COOLDOWN_MS = 10_000;
/** How many of the latest inline writes say whether writes are typically slow: slow when half of them were. */
const RECENT_WRITES = 16;
const FULL_RECENT = (1 << RECENT_WRITES) - 1;

export class InlineWrites {
  private readonly turnBudgetMs: number;
  private readonly slowWriteMs: number;
  private readonly stallMs: number;
  private readonly slowCooldownMs: number;
  private readonly now: () => number;
  private readonly elapsed: () => number;
  private readonly afterTurn: (fn: () => void) => void;
  private spentThisTurn = 0;
  private turnEndScheduled = false;
  private slowUntil = 0;
  /** The latest inline writes, newest in the lowest bit: 1 = slower than `slowWriteMs`. */
  private recentSlow = 0;

  constructor(opts: InlineWriteOptions = {}) {
    this.turnBudgetMs = opts.turnBudgetMs ?? TURN_BUDGET_MS;
    this.slowWriteMs = opts.slowWriteMs ?? SLOW_WRITE_MS;
    this.stallMs = opts.stallMs ?? STALL_MS;
    this.slowCooldownMs = opts.slowCooldownMs ?? SLOW_COOLDOWN_MS;
    this.now = opts.now ?? Date.now;
    this.elapsed = opts.elapsed ?? (() => performance.now());
    this.afterTurn = opts.afterTurn ?? ((fn) => setImmediate(fn));
  }

  /** Whether the next write may be inline (see the module comment). */
  allowed(): boolean {
    return this.spentThisTurn < this.turnBudgetMs && this.now() >= this.slowUntil;
  }

  /** Runs `write` inline and accounts for its time; what it throws is thrown, after the accounting. */
  run<T>(write: () => T): T {
    const started = this.elapsed();
    try {
      return write();
    } finally {
      this.spend(this.elapsed() - started);
    }
  }

  private spend(ms: number): void {
    this.spentThisTurn += ms;
    if (!this.turnEndScheduled) {
      this.turnEndScheduled = true;
      this.afterTurn(() => {
        this.turnEndScheduled = false;
        this.spentThisTurn = 0;
      });
    }
    this.recentSlow = ((this.recentSlow << 1) | (ms > this.slowWriteMs ? 1 : 0)) & FULL_RECENT;
    if (ms > this.stallMs || bitCount(this.recentSlow) >= RECENT_WRITES / 2) {
      this.slowUntil = this.now() + this.slowCooldownMs;
      this.recentSlow = 0;
    }
  }
}

function bitCount(bits: number): number {
  let count = 0;
  for (let rest = bits; rest; rest &= rest - 1) count++;
  return count;
}

/** The process's one budget: every journal of the process shares its event loop (and usually its disk). */
export const processInlineWrites = new InlineWrites();
