/**
 * One webhook delivery: POST the event's JSON, signed, to the receiver. Bounded in every way a receiver
 * could abuse: one deadline for the whole exchange (connect, send, answer), at most 64 KiB of the answer
 * read, redirects never followed (a 3xx is a failed delivery), the connection to an address the target
 * policy allows (webhook-target.ts).
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { WebhookConfig } from '../store/types.js';
import { bareHost, type WebhookTargetPolicy } from './webhook-target.js';

export const SIGNATURE_HEADER = 'x-telegram-service-signature';
export const EVENT_ID_HEADER = 'x-telegram-service-event-id';
export const EVENT_TYPE_HEADER = 'x-telegram-service-event-type';
export const ACCOUNT_HEADER = 'x-telegram-service-account';
const MAX_ANSWER_BYTES = 64 * 1024;

/** `sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the webhook's secret. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export type PostOutcome = { ok: true; status: number } | { ok: false; status?: number; error: string };

export interface PostOptions {
  config: WebhookConfig;
  body: string;
  headers: Record<string, string>;
  policy: WebhookTargetPolicy;
  timeoutMs: number;
  agent?: { http: http.Agent; https: https.Agent };
  signal?: AbortSignal;
}

export function postWebhook(opts: PostOptions): Promise<PostOutcome> {
  const url = new URL(opts.config.url);
  const host = bareHost(url);
  // A literal IP is connected to without a lookup: check it here, every time.
  if (net.isIP(host) && !opts.policy.addressAllowed(opts.config.setBy, host, host)) {
    return Promise.resolve({ ok: false, error: `${host} is an address this webhook may not use` });
  }
  const secure = url.protocol === 'https:';
  const body = Buffer.from(opts.body, 'utf8');
  return new Promise<PostOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: PostOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const request = (secure ? https : http).request(
      url,
      {
        method: 'POST',
        headers: {
          ...opts.headers,
          'content-type': 'application/json',
          'content-length': String(body.length),
          [SIGNATURE_HEADER]: signBody(opts.config.secret, body),
        },
        lookup: opts.policy.lookupFor(opts.config.setBy, host),
        ...(opts.agent ? { agent: secure ? opts.agent.https : opts.agent.http } : {}),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) response.destroy(); // we never need more than the status
        });
        const done = (): void => {
          if (status >= 200 && status < 300) finish({ ok: true, status });
          else if (status >= 300 && status < 400) finish({ ok: false, status, error: `the receiver answered ${status} (a redirect); redirects are not followed` });
          else finish({ ok: false, status, error: `the receiver answered ${status}` });
        };
        response.on('end', done);
        response.on('close', done);
        response.on('error', done);
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      finish({ ok: false, error: `no answer within ${opts.timeoutMs} ms` });
    }, opts.timeoutMs);
    const onAbort = (): void => {
      request.destroy();
      finish({ ok: false, error: 'delivery stopped' });
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, error: describeNetworkError(err) }));
    request.end(body);
  });
}

function describeNetworkError(err: NodeJS.ErrnoException): string {
  if (err.code === 'WEBHOOK_URL_FORBIDDEN') return err.message;
  if (err.code === 'ECONNREFUSED') return 'the receiver refused the connection';
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return 'the receiver host cannot be resolved';
  if (err.code) return `cannot reach the receiver (${err.code})`;
  return 'cannot reach the receiver';
}
