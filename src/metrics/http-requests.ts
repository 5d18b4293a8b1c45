/**
 * HTTP requests by route and status, with their latency: a counter and a histogram as prom-client would
 * keep them, but counted in plain numbers per series and handed to the registry only when it is scraped.
 * prom-client's own inc()/observe() check and hash a labels object on every call and key the histogram's
 * buckets by their bounds as strings: ~2 µs of every request. Here a request costs two map lookups and a
 * few additions; the values and the text a scrape gets are prom-client's (test/unit/http-metrics.test.ts).
 */
import type { Metric, Registry } from 'prom-client';

interface RouteSeries {
  readonly method: string;
  readonly route: string;
  /** Requests by status code. */
  readonly statuses: Map<number, number>;
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

/** prom-client's view of a metric: what Registry.metrics() formats. */
interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

export class HttpRequestMetrics {
  /** method → route template → series. */
  private readonly series = new Map<string, Map<string, RouteSeries>>();

  constructor(
    registry: Registry,
    private readonly names: { requests: string; latency: string },
    private readonly bounds: readonly number[],
  ) {
    const requests = {
      name: names.requests,
      help: 'HTTP requests by route and status',
      type: 'counter',
      aggregator: 'sum',
      get: async () => ({ ...requests, values: this.requestValues() }),
      reset: () => this.series.clear(),
    };
    const latency = {
      name: names.latency,
      help: 'HTTP request latency by route',
      type: 'histogram',
      aggregator: 'sum',
      get: async () => ({ ...latency, values: this.latencyValues() }),
      reset: () => this.series.clear(),
    };
    // The registry needs only name, help, type, aggregator and get() of a metric (it formats what get() answers).
    registry.registerMetric(requests as unknown as Metric);
    registry.registerMetric(latency as unknown as Metric);
  }

  /** One finished request (route: the route's template, never the raw path). */
  record(method: string, route: string, status: number, seconds: number): void {
    let byRoute = this.series.get(method);
    if (!byRoute) this.series.set(method, (byRoute = new Map()));
    let series = byRoute.get(route);
    if (!series) byRoute.set(route, (series = { method, route, statuses: new Map(), buckets: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 }));
    series.statuses.set(status, (series.statuses.get(status) ?? 0) + 1);
    let bucket = 0;
    while (bucket < this.bounds.length && seconds > this.bounds[bucket]!) bucket++;
    series.buckets[bucket]!++;
    series.sum += seconds;
    series.count++;
  }

  private *all(): Iterable<RouteSeries> {
    for (const byRoute of this.series.values()) yield* byRoute.values();
  }

  private requestValues(): MetricValue[] {
    const values: MetricValue[] = [];
    for (const { method, route, statuses } of this.all()) {
      for (const [status, count] of statuses) values.push({ value: count, labels: { method, route, status: String(status) } });
    }
    return values;
  }

  /** As prom-client exports a histogram: cumulative buckets by `le`, then +Inf, _sum and _count, per series. */
  private latencyValues(): MetricValue[] {
    const values: MetricValue[] = [];
    const bucket = `${this.names.latency}_bucket`;
    for (const { method, route, buckets, sum, count } of this.all()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += buckets[i]!;
        values.push({ value: cumulative, labels: { le, method, route }, metricName: bucket });
      });
      values.push({ value: count, labels: { le: '+Inf', method, route }, metricName: bucket });
      values.push({ value: sum, labels: { method, route }, metricName: `${this.names.latency}_sum` });
      values.push({ value: count, labels: { method, route }, metricName: `${this.names.latency}_count` });
    }
    return values;
  }
}
