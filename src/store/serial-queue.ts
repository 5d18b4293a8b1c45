/**
 * One writer for the data directory: tasks run one at a time, in order. `requestFlush` coalesces:
 * every request made before a flush starts is served by that flush (it reads the newest state when it
 * starts), so a burst of changes costs one write, and a change made during a flush gets the next one.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private queuedFlush: Promise<void> | undefined;

  constructor(private readonly flush: () => Promise<void>) {}

  /** Run `task` after everything queued so far. Its failure is returned to the caller only. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  requestFlush(): Promise<void> {
    if (this.queuedFlush) return this.queuedFlush;
    const flush = this.run(() => {
      this.queuedFlush = undefined; // changes from now on need another flush
      return this.flush();
    });
    this.queuedFlush = flush;
    return flush;
  }

  /** Resolves when everything queued so far has run. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
