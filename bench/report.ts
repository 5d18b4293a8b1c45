/** Printing and small statistics for `npm run bench`. */

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function fmt(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return String(n);
  return n >= 100 ? n.toFixed(0) : n.toFixed(digits);
}

export interface Row {
  metric: string;
  value: string;
  baseline?: string;
  ratio?: string;
  note?: string;
}

export function section(title: string): void {
  console.log(`\n## ${title}`);
}

export function row(r: Row): void {
  const parts = [`  ${r.metric.padEnd(44)} ${r.value.padStart(14)}`];
  if (r.baseline !== undefined) parts.push(`  baseline ${r.baseline.padStart(12)}`);
  if (r.ratio !== undefined) parts.push(`  ratio ${r.ratio}`);
  if (r.note) parts.push(`  (${r.note})`);
  console.log(parts.join(''));
}

/** value / baseline, printed as "3.2x". For "higher is better" metrics pass them swapped as needed. */
export function ratio(value: number, baseline: number): string {
  return `${(value / baseline).toFixed(2)}x`;
}

export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

/** Runs `total` tasks with at most `concurrency` in flight; returns per-task durations and errors. */
export async function pool(total: number, concurrency: number, task: (i: number) => Promise<void>) {
  const durations: number[] = [];
  const errors: string[] = [];
  let next = 0;
  const t0 = performance.now();
  async function worker(): Promise<void> {
    while (next < total) {
      const i = next++;
      const s = performance.now();
      try {
        await task(i);
        durations.push(performance.now() - s);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  const elapsedMs = performance.now() - t0;
  durations.sort((a, b) => a - b);
  return { durations, errors, elapsedMs, perSecond: (durations.length / elapsedMs) * 1000 };
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** "a / b / c" of a few repeated measurements, for the note beside a median. */
export function spread(values: number[], digits = 0): string {
  return values.map((v) => v.toFixed(digits)).join(' / ');
}
