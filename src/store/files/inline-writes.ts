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
 * - when the storage is slow: once inline writes typically take more than `slowWriteMs` (a moving average:
 *   single slow writes happen on every disk), or one took more than `stallMs` (a stalled disk), every write
 *   goes through the pool for `slowCooldownMs`; then inline is tried again, from a fresh average.
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
/** The weight of the newest write in the moving average. */
const AVERAGE_WEIGHT = 0.2;

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
  /** The moving average of inline writes' times (ms). */
  private typicalMs = 0;

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
    this.typicalMs += (ms - this.typicalMs) * AVERAGE_WEIGHT;
    if (this.typicalMs > this.slowWriteMs || ms > this.stallMs) {
      this.slowUntil = this.now() + this.slowCooldownMs;
      this.typicalMs = 0;
    }
  }
}

/** The process's one budget: every journal of the process shares its event loop (and usually its disk). */
export const processInlineWrites = new InlineWrites();
