/** Waiting for something that happens on another connection (a pushed update, a closed socket). */

/** Polls `check` until it returns something other than undefined/false; fails after `timeoutMs` naming `what`. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves once a logged-in mtcute client's updates loop listens and has its state (and finished any
 * catch-up): start() returns before that, and mtcute starts from the state it fetches then, so
 * updates that arrive in between are never dispatched. mtcute 0.30 offers no public signal for this,
 * hence the peek at its updates manager.
 */
export async function updatesLoopReady(c: object): Promise<void> {
  type Manager = { updatesLoopActive?: boolean; pts?: number; catchingUp?: boolean };
  const manager = (c as { _client?: { updates?: Manager } })._client?.updates;
  await eventually(() => manager?.updatesLoopActive === true && manager.pts !== undefined && !manager.catchingUp, 'the updates loop to start');
}
