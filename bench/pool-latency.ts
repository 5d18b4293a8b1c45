/**
 * `npx tsx bench/pool-latency.ts DIR`: the events bench's latency samples of many runs (written to DIR by
 * `BENCH_LATENCY_DUMP=DIR npm run bench -- events latency`), per way of delivery: each run's p99 ratio to the
 * bare client, the service's and the floor's (median, range, runs at or under the goal), and the p50 and p99
 * of all the runs' samples pooled. One run's p99 of 1,000 samples is its tenth-slowest; pooled, the ratio
 * moves less with what the machine did in a few seconds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fmt, median, percentile } from './report.js';

interface Run {
  way: string;
  bareProcess: number[];
  delivered: number[];
  floorBare: number[];
  floor: number[];
}

const GOAL = 1.5;
const dir = process.argv[2];
if (!dir) {
  console.error('usage: tsx bench/pool-latency.ts DIR');
  process.exit(2);
}

const runs = new Map<string, Run[]>();
for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
  const run = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as Run;
  runs.set(run.way, [...(runs.get(run.way) ?? []), run]);
}

const p = (samples: number[], at: number): number => percentile([...samples].sort((a, b) => a - b), at);
/** `median (min–max), n ≤ goal` of the runs' p99 ratios. */
function perRun(ratios: number[]): string {
  const sorted = [...ratios].sort((a, b) => a - b);
  return `${fmt(median(ratios), 2)}x (${fmt(sorted[0]!, 2)}–${fmt(sorted.at(-1)!, 2)}), ${ratios.filter((r) => r <= GOAL).length} ≤ ${GOAL}x`;
}

for (const [way, list] of runs) {
  const all = (key: keyof Omit<Run, 'way'>): number[] => list.flatMap((run) => run[key]);
  const [bare, service, floorBare, floor] = [all('bareProcess'), all('delivered'), all('floorBare'), all('floor')];
  console.log(`${way}: ${list.length} runs, ${service.length} samples`);
  console.log(`  p99 ratio per run   service ${perRun(list.map((r) => p(r.delivered, 99) / p(r.bareProcess, 99)))};  floor ${perRun(list.map((r) => p(r.floor, 99) / p(r.floorBare, 99)))}`);
  for (const at of [50, 99]) {
    const [s, b, f, fb] = [p(service, at), p(bare, at), p(floor, at), p(floorBare, at)];
    console.log(
      `  pooled p${at} (ms)      service ${fmt(s, 2)} / bare ${fmt(b, 2)} = ${fmt(s / b, 2)}x;  floor ${fmt(f, 2)} / bare ${fmt(fb, 2)} = ${fmt(f / fb, 2)}x;  service ÷ floor ${fmt(s / f, 2)}x`,
    );
  }
}
