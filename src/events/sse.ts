/**
 * Server-Sent Events from an account's journal. The stream reads the journal itself (never a queue filled
 * for it): after the last id it wrote, a batch at a time, woken when new events are journaled. Memory per
 * stream is one batch beyond the socket's buffer: when the client does not read, the write waits for the
 * socket to drain, and a client that stays behind for `drainTimeoutMs` is cut off (it resumes later with
 * Last-Event-ID, losing nothing). A comment line every `heartbeatMs` keeps proxies and clients from timing out.
 */
import type { ServerResponse } from 'node:http';
import type { EventFeed } from './feed.js';

/** Events read from the journal at a time. */
const BATCH = 64;
/** Bytes handed to the socket before checking whether it keeps up: what a stream holds beyond its buffer. */
const WRITE_CHUNK_BYTES = 64 * 1024;

export interface SseOptions {
  /** Resume after this id. */
  after: number;
  heartbeatMs: number;
  drainTimeoutMs: number;
  /** Reconnect delay suggested to the client (the `retry:` field). */
  retryMs?: number;
  /** Ends the stream (service shutdown, account deleted). */
  signal: AbortSignal;
}

export type SseEnd = 'client-closed' | 'too-slow' | 'stopped';

/** Writes the stream until the client goes, is too slow, or `signal` fires. Headers must be sent already. */
export async function streamEvents(res: ServerResponse, events: EventFeed, opts: SseOptions): Promise<SseEnd> {
  let cursor = opts.after;
  let wake: (() => void) | null = null;
  const wakeUp = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const unsubscribe = events.subscribe(wakeUp);
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  let clientGone = false;
  void closed.then(() => {
    clientGone = true;
    wakeUp();
  });
  const onAbort = (): void => wakeUp();
  opts.signal.addEventListener('abort', onAbort);
  const heartbeat = setInterval(() => {
    if (res.writableLength === 0) res.write(': keep-alive\n\n');
  }, opts.heartbeatMs);
  heartbeat.unref();

  try {
    if (!res.write(`retry: ${opts.retryMs ?? 2000}\n: resuming after ${cursor}\n\n`) && !(await drained(res, opts.drainTimeoutMs, closed))) return 'too-slow';
    for (;;) {
      if (clientGone) return 'client-closed';
      if (opts.signal.aborted || events.isClosed) return 'stopped';
      const batch = await events.read(cursor, BATCH);
      if (batch.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (events.bounds().lastId > cursor || clientGone || opts.signal.aborted || events.isClosed) wakeUp();
        });
        continue;
      }
      let text = '';
      for (const [i, event] of batch.entries()) {
        text += `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(events.toWire(event))}\n\n`;
        if (text.length < WRITE_CHUNK_BYTES && i < batch.length - 1) continue;
        cursor = event.id;
        const keptUp = res.write(text);
        text = '';
        if (!keptUp && !(await drained(res, opts.drainTimeoutMs, closed))) return 'too-slow';
        if (clientGone) return 'client-closed';
      }
    }
  } finally {
    clearInterval(heartbeat);
    unsubscribe();
    opts.signal.removeEventListener('abort', onAbort);
    if (!res.destroyed) res.end();
  }
}

/** Waits for the socket to take what was written; false when the client did not read within `timeoutMs`. */
function drained(res: ServerResponse, timeoutMs: number, closed: Promise<void>): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      res.off('drain', onDrain);
      res.destroy(); // too slow: cut off, so its buffer is freed now
      resolve(false);
    }, timeoutMs);
    function onDrain(): void {
      clearTimeout(timer);
      resolve(true);
    }
    res.once('drain', onDrain);
    void closed.then(() => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      resolve(false);
    });
  });
}
