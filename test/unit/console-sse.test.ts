/**
 * The web console's Server-Sent Events framing (console/sse.js, run here in Node as the browser runs it):
 * the service's own frames, heartbeats and comments, any chunking (down to one character, and CR LF split
 * between chunks), every line ending, multi-line data, ids kept from event to event, and what is ignored.
 */
import { describe, expect, it } from 'vitest';
import { createSseParser, type SseEvent } from '../../console/sse.js';
import { seededRandom } from '../helpers/sandbox-service.js';

function parse(chunks: string[]): { events: SseEvent[]; retries: number[] } {
  const events: SseEvent[] = [];
  const retries: number[] = [];
  const parser = createSseParser({ onEvent: (e) => events.push(e), onRetry: (ms) => retries.push(ms) });
  for (const chunk of chunks) parser.push(chunk);
  return { events, retries };
}

/** What the service writes (src/events/sse.ts): a retry and a comment, then events, heartbeats between. */
const SERVICE_STREAM =
  'retry: 2000\n: resuming after 0\n\n' +
  'id: 1\nevent: message.new\ndata: {"id":1,"type":"message.new","message":{"text":"hi <b>x</b>: y"}}\n\n' +
  ': keep-alive\n\n' +
  'id: 2\nevent: message.read\ndata: {"id":2,"type":"message.read","maxId":5}\n\n';
const SERVICE_EVENTS: SseEvent[] = [
  { id: '1', type: 'message.new', data: '{"id":1,"type":"message.new","message":{"text":"hi <b>x</b>: y"}}' },
  { id: '2', type: 'message.read', data: '{"id":2,"type":"message.read","maxId":5}' },
];

describe('console/sse.js', () => {
  it("reads the service's stream: events with id, type and data; the retry; comments and heartbeats dispatch nothing", () => {
    expect(parse([SERVICE_STREAM])).toEqual({ events: SERVICE_EVENTS, retries: [2000] });
  });

  it('gives the same events however the stream is cut into chunks (one character at a time, random cuts)', () => {
    expect(parse([...SERVICE_STREAM]).events).toEqual(SERVICE_EVENTS);
    const random = seededRandom(20261130);
    for (let round = 0; round < 200; round++) {
      const chunks: string[] = [];
      for (let at = 0; at < SERVICE_STREAM.length; ) {
        const size = 1 + Math.floor(random() * 40);
        chunks.push(SERVICE_STREAM.slice(at, at + size));
        at += size;
      }
      expect(parse(chunks).events).toEqual(SERVICE_EVENTS);
    }
  });

  it('takes LF, CR LF and CR line endings, also a CR LF split between two chunks (one line end, not two)', () => {
    const expected = [{ id: '7', type: 'message', data: 'a' }];
    expect(parse(['id: 7\r\ndata: a\r\n\r\n']).events).toEqual(expected);
    expect(parse(['id: 7\rdata: a\r\r']).events).toEqual(expected);
    expect(parse(['id: 7\r', '\ndata: a\r', '\n\r', '\n']).events).toEqual(expected);
    // A CR at a chunk's end followed by something else than LF: still one line end.
    expect(parse(['data: a\r', 'data: b\n\n']).events).toEqual([{ id: '', type: 'message', data: 'a\nb' }]);
  });

  it('joins data lines with LF, strips one space after the colon, and keeps the last id for the next events', () => {
    const { events } = parse(['id: 3\ndata: first\ndata:  indented\ndata\ndata:no-space\n\n', 'event: custom\ndata: next\n\n']);
    expect(events).toEqual([
      { id: '3', type: 'message', data: 'first\n indented\n\nno-space' },
      { id: '3', type: 'custom', data: 'next' },
    ]);
  });

  it('dispatches nothing for a frame without data or one not yet ended; ignores unknown fields, a bad retry and an id with NUL', () => {
    const { events, retries } = parse(['id: 4\nevent: nothing\n\n', 'retry: soon\nfoo: bar\nid: 5\0\ndata: x\n\n', 'id: 6\ndata: unfinished\n']);
    expect(events).toEqual([{ id: '4', type: 'message', data: 'x' }]);
    expect(retries).toEqual([]);
  });
});
