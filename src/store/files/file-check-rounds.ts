/**
 * The periodic file checks of every session store of a data directory (account-files.ts verify()), run in
 * rounds by one timer: each store is checked once per round, a round lasts `minIntervalMs` or `spacingMs` per
 * store, whichever is longer. A timer and two lstat calls per account every 5 s had a thousand idle accounts
 * make 200 checks a second, and the garbage those leave kept the collector busy; in rounds a thousand accounts
 * are checked every 20 s, on one wake-up a second.
 */

export interface FileCheckRoundsOptions {
  /** The shortest round (ms): a store is never checked more often. 0 = no checks. */
  minIntervalMs: number;
  /** The round grows by this much per store (ms): the average gap between two checks of the data directory. */
  spacingMs: number;
}

/** With many stores, the timer wakes this often (ms) and checks the ones due. */
const MAX_TICK_MS = 1000;

export class FileCheckRounds {
  private readonly checks = new Set<() => Promise<void>>();
  /** What is left of the current round (popped from the end). */
  private round: Array<() => Promise<void>> = [];
  private timer: NodeJS.Timeout | undefined;
  /** The timer's period as armed. */
  private tickMs = 0;
  /** The fraction of a check a tick owed the next one. */
  private owed = 0;

  constructor(private readonly opts: FileCheckRoundsOptions) {}

  /** Checks `check` once per round from now on; returns its removal. */
  add(check: () => Promise<void>): () => void {
    this.checks.add(check);
    // More stores make for shorter ticks: the tick armed for fewer would come late and check a crowd at once.
    if (this.timer && this.nextTickMs() < this.tickMs) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.arm();
    return () => {
      this.checks.delete(check);
      if (this.checks.size === 0) {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.round = [];
      }
    };
  }

  private roundMs(): number {
    return Math.max(this.opts.minIntervalMs, this.checks.size * this.opts.spacingMs);
  }

  /** A few stores: one wake-up per check; many: one a second, checking several. */
  private nextTickMs(): number {
    const roundMs = this.roundMs();
    return Math.max(roundMs / this.checks.size, Math.min(MAX_TICK_MS, roundMs));
  }

  private arm(): void {
    if (this.timer || this.checks.size === 0 || this.opts.minIntervalMs <= 0) return;
    const tickMs = (this.tickMs = this.nextTickMs());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick(tickMs);
      this.arm();
    }, tickMs);
    this.timer.unref();
  }

  private tick(tickMs: number): void {
    const due = (this.checks.size * tickMs) / this.roundMs() + this.owed;
    const count = Math.floor(due + 1e-9);
    this.owed = Math.max(0, due - count);
    for (let done = 0; done < count && this.checks.size > 0; ) {
      if (this.round.length === 0) this.round = [...this.checks].reverse();
      const check = this.round.pop()!;
      if (!this.checks.has(check)) continue; // removed during the round
      done++;
      void check();
    }
  }
}
