/**
 * Reconnect/validation retries: exponential backoff with full jitter, capped.
 *
 * Written here rather than taken from p-retry / exponential-backoff: those retry one promise-returning
 * function, while this loop is driven by outcomes (stop on success, on a dead session, or wait exactly as
 * long as a FLOOD_WAIT says), must log every attempt with its number and delay, can be kicked early when
 * mtcute reports the connection usable, and is cancelled by stop() — more glue than the loop itself.
 */
import type { Logger } from 'pino';
import { LOG_MESSAGES } from '../logging/messages.js';
import { fullJitterDelayMs } from '../timing/backoff.js';


/** What one attempt tells the loop: finished, try again with backoff, or try again after a fixed wait. */
export type AttemptOutcome = 'done' | 'retry' | { retryAfterMs: number };

export interface RetryLoopOptions {
  baseMs: number;
  capMs: number;
  logger: Logger;
  /** What is being retried, for the log line. */
  what: string;
  attempt: (attemptNumber: number) => Promise<AttemptOutcome>;
  random?: () => number;
}

export class RetryLoop {
  private running = false;
  private attemptNumber = 0;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: RetryLoopOptions) {}

  get active(): boolean {
    return this.running;
  }

  /** Starts retrying unless already running. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.attemptNumber = 0;
    void this.loop();
  }

  /** Runs the next attempt now instead of waiting out the delay (e.g. the connection came back). */
  kick(): void {
    this.wake?.();
  }

  stop(): void {
    this.running = false;
    this.kick();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
      this.timer = setTimeout(done, ms);
      this.timer.unref?.();
    });
  }

  private async loop(): Promise<void> {
    let fixedWaitMs: number | undefined;
    while (this.running) {
      this.attemptNumber += 1;
      const delayMs = fixedWaitMs ?? fullJitterDelayMs(this.attemptNumber, this.opts.baseMs, this.opts.capMs, this.opts.random);
      this.opts.logger.info({ attempt: this.attemptNumber, delayMs }, LOG_MESSAGES.retrying(this.opts.what, this.attemptNumber, delayMs));
      await this.sleep(delayMs);
      if (!this.running) return;
      let outcome: AttemptOutcome;
      try {
        outcome = await this.opts.attempt(this.attemptNumber);
      } catch (err) {
        this.opts.logger.warn({ err, attempt: this.attemptNumber }, `${this.opts.what}: attempt failed unexpectedly`);
        outcome = 'retry';
      }
      if (outcome === 'done') {
        this.running = false;
        return;
      }
      fixedWaitMs = outcome === 'retry' ? undefined : outcome.retryAfterMs;
    }
  }
}
