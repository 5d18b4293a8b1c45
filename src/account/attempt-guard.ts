/**
 * Wrong guesses on one account (login codes, 2FA passwords): the first `free` are answered at once;
 * after that each attempt must wait, doubling from `baseMs` up to `capMs`. A right guess resets it.
 * Per account, in memory: an attacker rotating client addresses still meets the same account's guard.
 */
import { exponentialDelayMs } from '../timing/backoff.js';

export interface AttemptGuardOptions {
  free: number;
  baseMs: number;
  capMs: number;
  now?: () => number;
}

export const GUESS_GUARD_DEFAULTS: AttemptGuardOptions = { free: 5, baseMs: 30_000, capMs: 60 * 60_000 };

export class AttemptGuard {
  private failures = 0;
  private blockedUntil = 0;
  private readonly now: () => number;

  constructor(private readonly opts: AttemptGuardOptions = GUESS_GUARD_DEFAULTS) {
    this.now = opts.now ?? Date.now;
  }

  /** Whole seconds to wait before the next attempt (0 = go ahead). */
  waitSeconds(): number {
    const left = this.blockedUntil - this.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  failed(): void {
    this.failures++;
    const over = this.failures - this.opts.free + 1;
    if (over <= 0) return;
    const delay = exponentialDelayMs(over, this.opts.baseMs, this.opts.capMs);
    this.blockedUntil = this.now() + delay;
  }

  reset(): void {
    this.failures = 0;
    this.blockedUntil = 0;
  }
}

/** At most `max` attempts per `windowMs` (fixed window); max 0 = no limit. */
export class WindowBudget {
  private windowStart = 0;
  private used = 0;

  constructor(
    private readonly limit: { max: number; windowMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one attempt; returns the whole seconds to wait when the budget is spent (0 = taken). */
  take(): number {
    if (this.limit.max <= 0) return 0;
    const now = this.now();
    if (now - this.windowStart >= this.limit.windowMs) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used >= this.limit.max) return Math.max(1, Math.ceil((this.windowStart + this.limit.windowMs - now) / 1000));
    this.used++;
    return 0;
  }
}
