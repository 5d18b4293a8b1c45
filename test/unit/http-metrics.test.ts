/**
 * The HTTP request metrics (src/metrics/http-requests.ts) are counted outside prom-client: a scrape must
 * still get exactly what prom-client's own Counter and Histogram would have given for the same requests.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HttpRequestMetrics } from '../../src/metrics/http-requests.js';

const NAMES = { requests: 'http_requests_total', latency: 'http_request_duration_seconds' };
const BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15];

/** The exposition's lines, sorted: the same samples, whatever order the series come in. */
function lines(text: string): string[] {
  return text.split('\n').filter(Boolean).sort();
}

describe('HttpRequestMetrics', () => {
  it('scrapes as prom-client’s own counter and histogram would', async () => {
    const ours = new Registry();
    const http = new HttpRequestMetrics(ours, NAMES, BOUNDS);
    const theirs = new Registry();
    const requests = new Counter({ name: NAMES.requests, help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [theirs] });
    const latency = new Histogram({ name: NAMES.latency, help: 'HTTP request latency by route', labelNames: ['method', 'route'], buckets: BOUNDS, registers: [theirs] });

    const seen: Array<[string, string, number, number]> = [
      ['GET', '/api/telegram/status', 200, 0.0004],
      ['GET', '/api/telegram/status', 200, 0.001], // on a bound: in that bucket
      ['GET', '/api/telegram/status', 401, 0.0031],
      ['POST', '/api/accounts', 201, 0.2],
      ['GET', 'unmatched', 404, 20], // beyond the last bound: +Inf only
      ['GET', '/api/accounts/:id/me', 429, 0.75],
      ['POST', '/api/telegram/auth/send-code', 200, 1e-7],
    ];
    for (const [method, route, status, seconds] of seen) {
      http.record(method, route, status, seconds);
      requests.inc({ method, route, status: String(status) });
      latency.observe({ method, route }, seconds);
    }

    expect(lines(await ours.metrics())).toEqual(lines(await theirs.metrics()));

    ours.resetMetrics();
    theirs.resetMetrics();
    expect(lines(await ours.metrics())).toEqual(lines(await theirs.metrics()));
  });
});
