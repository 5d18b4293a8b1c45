/**
 * The receiving end of the service's events, as a user would write it: an SSE client that reconnects with
 * Last-Event-ID (like EventSource) and a webhook receiver that checks each signature, can be taken down,
 * made to fail, hang or redirect, and drops repeated ids as the README tells receivers to.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- events are checked field by field
export type Event = { id: number; type: string; at: string; account: string; [field: string]: any };

export interface SseClient {
  /** Every event received, in order (repeats included). */
  readonly received: Event[];
  /** The newest id seen (what a reconnect sends as Last-Event-ID). */
  readonly lastId: number;
  /** Connections made (1 + reconnects). */
  readonly connections: number;
  close(): void;
}

/**
 * Connects to `url` (an SSE endpoint) with the bearer token and keeps connected: when the stream ends or
 * cannot be opened it reconnects after `retryMs` with Last-Event-ID, like EventSource. `onEvent` is called
 * as each event is parsed (the bench times arrivals there).
 */
export function sseClient(url: string, token: string, opts: { after?: number; retryMs?: number; onEvent?: (event: Event) => void } = {}): SseClient {
  const received: Event[] = [];
  let lastId = opts.after ?? 0;
  let connections = 0;
  let closed = false;
  let current: http.ClientRequest | undefined;
  let timer: NodeJS.Timeout | undefined;

  const connect = (): void => {
    if (closed) return;
    connections++;
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
    if (lastId > 0) headers['last-event-id'] = String(lastId);
    const request = http.get(url, { headers }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        res.on('end', retry);
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (;;) {
          const end = buffer.indexOf('\n\n');
          if (end === -1) break;
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let id: string | undefined;
          let data = '';
          for (const line of frame.split('\n')) {
            if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (id !== undefined && data) {
            const event = JSON.parse(data) as Event;
            received.push(event);
            lastId = Math.max(lastId, Number(id));
            opts.onEvent?.(event);
          }
        }
      });
      res.on('end', retry);
      res.on('error', retry);
    });
    request.on('error', retry);
    current = request;
  };
  let retrying = false;
  function retry(): void {
    if (closed || retrying) return;
    retrying = true;
    timer = setTimeout(() => {
      retrying = false;
      connect();
    }, opts.retryMs ?? 200);
  }
  connect();
  return {
    received,
    get lastId() {
      return lastId;
    },
    get connections() {
      return connections;
    },
    close() {
      closed = true;
      clearTimeout(timer);
      current?.destroy();
    },
  };
}

export type ReceiverMode = 'ok' | 'fail' | 'hang' | 'slow' | 'redirect';

export interface WebhookReceiver {
  readonly url: string;
  readonly port: number;
  /** Events accepted (2xx answered), in arrival order, repeats included. */
  readonly accepted: Event[];
  /** Requests whose signature did not verify. */
  readonly badSignatures: number;
  /** Requests of any kind. */
  readonly requests: number;
  mode: ReceiverMode;
  /** Stop listening (connections refused) / listen again on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/** The README's verification: HMAC-SHA256 of the raw body with the secret, compared in constant time. */
export function signatureValid(secret: string, body: Buffer, header: string | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const got = Buffer.from(header ?? '');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** `onEvent` is called as each event is accepted (the bench times arrivals there). */
export async function webhookReceiver(secret: string, opts: { slowMs?: number; onEvent?: (event: Event) => void } = {}): Promise<WebhookReceiver> {
  const accepted: Event[] = [];
  let badSignatures = 0;
  let requests = 0;
  const hanging = new Set<http.ServerResponse>();
  const handler: http.RequestListener = (req, res) => {
    requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (!signatureValid(secret, body, req.headers['x-telegram-service-signature'] as string | undefined)) {
        badSignatures++;
        res.writeHead(401).end();
        return;
      }
      switch (receiver.mode) {
        case 'fail':
          res.writeHead(500).end('down for maintenance');
          return;
        case 'hang':
          hanging.add(res);
          return;
        case 'redirect':
          res.writeHead(307, { location: 'http://127.0.0.1:9/elsewhere' }).end();
          return;
        case 'slow':
          setTimeout(() => {
            accepted.push(JSON.parse(body.toString('utf8')) as Event);
            res.writeHead(200).end();
          }, opts.slowMs ?? 500);
          return;
        default: {
          const event = JSON.parse(body.toString('utf8')) as Event;
          accepted.push(event);
          opts.onEvent?.(event);
          res.writeHead(204).end();
        }
      }
    });
  };
  let server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const stop = async (): Promise<void> => {
    for (const res of hanging) res.destroy();
    hanging.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    accepted,
    get badSignatures() {
      return badSignatures;
    },
    get requests() {
      return requests;
    },
    mode: 'ok',
    down: stop,
    async up() {
      server = http.createServer(handler);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
    },
    close: stop,
  };
  return receiver;
}

/** Ids seen once each, in order: what a receiver that drops repeated ids keeps. */
export function deduped(events: Event[]): Event[] {
  const seen = new Set<number>();
  return events.filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
}
