/**
 * Sending fuzz requests to the real service and judging the answers.
 *
 * - `http` requests go through node:http with a keep-alive agent (bounded sockets): any method token,
 *   any path Node lets through, repeated headers, any body bytes.
 * - `raw` requests are bytes written on a fresh TCP connection (what Node's client refuses to send:
 *   malformed request lines, NUL and UTF-8 in headers, broken chunking, lying Content-Length…); every
 *   HTTP response in what comes back is parsed and judged.
 *
 * The rule judged: every answer is 2xx or 4xx; a 4xx carries exactly `{"error": {"code", "message"}}`.
 */
import http from 'node:http';
import net from 'node:net';

export interface FuzzRequest {
  kind: 'http' | 'raw';
  /** Short description for failure messages. */
  label: string;
  method?: string;
  path?: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer;
  raw?: Buffer;
  /** The server may close the connection without answering (a request we cut short, CONNECT, Upgrade). */
  mayDrop?: boolean;
  /** The server may reset the connection while we are still sending (a body far over the limit). */
  mayResetWhileSending?: boolean;
  /** Set by the generator when the request could be a valid state-changing step. */
  risky?: boolean;
}

export interface FuzzResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface FuzzOutcome {
  responses: FuzzResponse[];
  /** A transport error (reset, timeout) instead of, or after, the responses. */
  error?: string;
}

const REQUEST_TIMEOUT_MS = 30_000;

export function createAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

export async function send(port: number, agent: http.Agent, req: FuzzRequest): Promise<FuzzOutcome> {
  return req.kind === 'raw' ? sendRaw(port, req.raw!) : sendHttp(port, agent, req);
}

function sendHttp(port: number, agent: http.Agent, req: FuzzRequest): Promise<FuzzOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: FuzzOutcome) => {
      if (!settled) {
        settled = true;
        resolve(outcome);
      }
    };
    let clientRequest: http.ClientRequest;
    try {
      clientRequest = http.request({
        host: '127.0.0.1',
        port,
        agent,
        method: req.method ?? 'GET',
        path: req.path ?? '/',
        headers: req.headers ?? {},
        timeout: REQUEST_TIMEOUT_MS,
      });
    } catch (err) {
      // Node refused to build the request (a generator bug, not a server failure): reported as such.
      done({ responses: [], error: `client refused to send: ${(err as Error).message}` });
      return;
    }
    clientRequest.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done({ responses: [{ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }] }));
      res.on('error', (err) => done({ responses: [], error: err.message }));
    });
    clientRequest.on('timeout', () => {
      clientRequest.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`));
    });
    clientRequest.on('error', (err: NodeJS.ErrnoException) => done({ responses: [], error: `${err.code ?? ''} ${err.message}`.trim() }));
    if (req.body !== undefined) clientRequest.end(req.body);
    else clientRequest.end();
  });
}

function sendRaw(port: number, bytes: Buffer): Promise<FuzzOutcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(10_000, () => {
      error = 'no end of answer within 10 s';
      socket.destroy();
    });
    socket.on('connect', () => {
      // Half-close after writing: a request cut short is then seen as finished by the server.
      socket.end(bytes);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after the server answered and closed is normal; keep whatever arrived.
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') error = `${err.code ?? ''} ${err.message}`.trim();
    });
    socket.on('close', () => {
      const data = Buffer.concat(chunks);
      let responses: FuzzResponse[] = [];
      try {
        responses = parseResponses(data);
      } catch (err) {
        error = `unparseable answer: ${(err as Error).message}: ${JSON.stringify(data.subarray(0, 200).toString('latin1'))}`;
      }
      resolve({ responses, ...(error ? { error } : {}) });
    });
  });
}

/** Parses consecutive HTTP/1.x responses (Content-Length framed, or to the end of the data). */
export function parseResponses(data: Buffer): FuzzResponse[] {
  const out: FuzzResponse[] = [];
  let offset = 0;
  while (offset < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', offset, 'latin1');
    if (headEnd < 0) throw new Error('incomplete response head');
    const head = data.subarray(offset, headEnd).toString('latin1').split('\r\n');
    const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
    if (!statusLine) throw new Error(`bad status line ${JSON.stringify(head[0])}`);
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(statusLine[1]);
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (status < 200 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      body = data.subarray(bodyStart, bodyStart + length);
      if (body.length < length) throw new Error('body shorter than Content-Length');
      bodyStart += length;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = data.indexOf('\r\n', bodyStart, 'latin1');
        if (lineEnd < 0) throw new Error('incomplete chunk');
        const size = parseInt(data.subarray(bodyStart, lineEnd).toString('latin1'), 16);
        bodyStart = lineEnd + 2;
        if (size === 0) {
          bodyStart += 2;
          break;
        }
        parts.push(data.subarray(bodyStart, bodyStart + size));
        bodyStart += size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      body = data.subarray(bodyStart);
      bodyStart = data.length;
    }
    out.push({ status, headers, body });
    offset = bodyStart;
  }
  return out;
}

/** The web console's page and files: the only 2xx answers that are not JSON. */
const CONSOLE_PAGE = /^\/(console\/[a-z0-9.-]+)?(\?.*)?$/;
const CONSOLE_TYPES = /^(text\/html|text\/javascript|text\/css|image\/svg\+xml)/;

/** What is wrong with one answer to a request for `path` (undefined = fine). */
export function judgeResponse(res: FuzzResponse, method: string | undefined, path?: string): string | undefined {
  if (res.status >= 100 && res.status < 200) return undefined; // 100 Continue
  if (res.status >= 500) return `5xx: ${res.status} ${res.body.toString('utf8').slice(0, 200)}`;
  const is2xx = res.status >= 200 && res.status < 300;
  const is4xx = res.status >= 400 && res.status < 500;
  if (!is2xx && !is4xx) return `unexpected status ${res.status}`;
  if (method === 'HEAD') return undefined; // no body by definition
  const contentType = String(res.headers['content-type'] ?? '');
  if (is2xx && path !== undefined && CONSOLE_PAGE.test(path) && CONSOLE_TYPES.test(contentType)) return undefined;
  if (!contentType.includes('application/json')) return `status ${res.status} without a JSON content type (${contentType})`;
  let body: unknown;
  try {
    body = JSON.parse(res.body.toString('utf8'));
  } catch {
    return `status ${res.status} with a body that is not JSON: ${JSON.stringify(res.body.toString('utf8').slice(0, 200))}`;
  }
  if (is4xx && !isErrorShape(body)) return `status ${res.status} without the error shape: ${JSON.stringify(body).slice(0, 300)}`;
  if (is2xx && (typeof body !== 'object' || body === null)) return `status ${res.status} with a non-object body`;
  return undefined;
}

/** Exactly `{"error": {"code": "UPPER_CASE", "message": "…"}}`, nothing else. */
export function isErrorShape(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'error') return false;
  const error = (body as { error: unknown }).error;
  if (typeof error !== 'object' || error === null) return false;
  const errorKeys = Object.keys(error).sort();
  if (errorKeys.join(',') !== 'code,message') return false;
  const { code, message } = error as { code: unknown; message: unknown };
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code) && typeof message === 'string' && message.length > 0;
}

/** Runs `tasks` with at most `limit` in flight. */
export async function runBounded<T>(items: T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let nextIndex = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (nextIndex < items.length) {
      const index = nextIndex++;
      await task(items[index]!, index);
    }
  });
  await Promise.all(workers);
}
