/** Runs async operations one at a time, in call order: login steps, logout and recovery never interleave. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.tail.then(operation, operation);
    // The chain continues whether the operation succeeds or fails.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
