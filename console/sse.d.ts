// Types of sse.js for the service's TypeScript tests (the browser loads sse.js itself; this file is not served).
export interface SseEvent {
  /** The last event id the stream set (kept from event to event). */
  id: string;
  /** The `event:` field, or "message". */
  type: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
}

export function createSseParser(handlers: { onEvent(event: SseEvent): void; onRetry?(ms: number): void }): { push(text: string): void };
