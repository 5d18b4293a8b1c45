// One account's live events: its Server-Sent Events stream read with fetch() and a stream reader (so the
// token travels in the Authorization header only — EventSource cannot send one), framed by sse.js. When the
// connection drops or the stream ends, it reconnects after the last event it passed on (Last-Event-ID), so
// nothing is missed and nothing comes twice; it stops for good only when stopped, or on an answer that
// reconnecting cannot change (a token refused, an account gone).
import { ApiError, errorOf } from './api.js';
import { createSseParser } from './sse.js';

/** The wait before reconnecting after a stream ended, until the service says otherwise (its `retry:`). */
const RETRY_MS = 2000;
/** Waits after failures double up to this. */
const MAX_RETRY_MS = 30_000;
/** Answers that reconnecting cannot fix. */
const FINAL_STATUSES = new Set([401, 403, 404]);

/**
 * @param {object} opts
 * @param {{ stream(path: string, opts: { headers: object, signal: AbortSignal }): Promise<Response> }} opts.api
 * @param {string} opts.path    the account's /events route
 * @param {number} opts.after   start after this event id
 * @param {(event: object) => void} opts.onEvent    each event once, in id order
 * @param {(state: { state: 'connecting' | 'live' | 'reconnecting' | 'stopped', error?: Error, retryInMs?: number, notice?: string }) => void} opts.onState
 * @param {() => void} opts.onReset   the journal is not the one the ids came from (EVENT_ID_AHEAD): start again from 0
 * @returns {{ stop(): void }}
 */
export function watchEvents({ api, path, after, onEvent, onState, onReset }) {
  const controller = new AbortController();
  const { signal } = controller;
  let lastId = after;
  let retryMs = RETRY_MS;
  let failures = 0;

  function pause(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
  }

  function frame({ id, type, data }) {
    if (signal.aborted) return; // a chunk read just before stop() is not passed on
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return; // not the service's JSON: nothing to show
    }
    if (type === 'events.expired') {
      onState({ state: 'live', notice: `Older events were removed from the journal before they could be shown (it keeps events from #${event.firstId}).` });
      return;
    }
    const eventId = Number(id);
    if (!(eventId > lastId)) return; // seen already
    lastId = eventId;
    onEvent(event);
  }

  /** One connection, until its stream ends; throws when it cannot be opened or breaks. */
  async function follow() {
    const headers = lastId > 0 ? { 'Last-Event-ID': String(lastId) } : {};
    const response = await api.stream(path, { headers, signal });
    if (!response.ok) throw await errorOf(response);
    failures = 0;
    onState({ state: 'live' });
    const parser = createSseParser({
      onEvent: frame,
      onRetry: (ms) => {
        retryMs = Math.min(ms, MAX_RETRY_MS);
      },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.push(value);
    }
  }

  async function run() {
    while (!signal.aborted) {
      onState({ state: 'connecting' });
      let error = new Error('The event stream ended');
      try {
        await follow();
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ApiError && err.code === 'EVENT_ID_AHEAD') {
          lastId = 0;
          onReset();
          continue;
        }
        if (err instanceof ApiError && FINAL_STATUSES.has(err.status)) {
          onState({ state: 'stopped', error: err });
          return;
        }
        failures++;
        error = err instanceof ApiError ? err : new Error('The connection to the event stream broke');
      }
      if (signal.aborted) return;
      const wait = Math.min(MAX_RETRY_MS, retryMs * 2 ** Math.max(0, failures - 1));
      onState({ state: 'reconnecting', error, retryInMs: wait });
      await pause(wait);
    }
  }

  void run();
  return { stop: () => controller.abort() };
}
