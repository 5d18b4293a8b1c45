/**
 * Reliability totals: each reliability test adds what it tried (kills, faults injected, requests…) and
 * what went wrong (sessions lost, false log-outs, 5xx). Every test file appends JSON lines to one file
 * per run; the global teardown (test/reliability/global-setup.ts) adds them up and prints the table
 * that the README's Reliability section quotes.
 */
import fs from 'node:fs';

export interface ReliabilityCounts {
  casesTried?: number;
  kills?: number;
  faultsInjected?: number;
  httpRequests?: number;
  sessionsLost?: number;
  falseLogouts?: number;
  http5xx?: number;
  crashes?: number;
  secretLeaks?: number;
  /** Messages sent to accounts (events harness), and what became of them. */
  messagesSent?: number;
  eventsJournaled?: number;
  eventsDelivered?: number;
  eventsLost?: number;
  /** The same message under two event ids (what a receiver that drops repeated ids would still see twice). */
  eventsDuplicated?: number;
}

export const TOTALS_ENV = 'RELIABILITY_TOTALS_FILE';

/** Adds counts to this run's totals (no-op when the suite runs without the global setup). */
export function recordTotals(area: string, counts: ReliabilityCounts): void {
  const file = process.env[TOTALS_ENV];
  if (!file) return;
  fs.appendFileSync(file, JSON.stringify({ area, ...counts }) + '\n');
}

export function sumTotals(file: string): { byArea: Map<string, ReliabilityCounts>; all: Required<ReliabilityCounts> } {
  const all: Required<ReliabilityCounts> = {
    casesTried: 0, kills: 0, faultsInjected: 0, httpRequests: 0,
    sessionsLost: 0, falseLogouts: 0, http5xx: 0, crashes: 0, secretLeaks: 0,
    messagesSent: 0, eventsJournaled: 0, eventsDelivered: 0, eventsLost: 0, eventsDuplicated: 0,
  };
  const byArea = new Map<string, ReliabilityCounts>();
  if (!fs.existsSync(file)) return { byArea, all };
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const { area, ...counts } = JSON.parse(line) as { area: string } & ReliabilityCounts;
    const acc = byArea.get(area) ?? {};
    for (const [k, v] of Object.entries(counts) as [keyof ReliabilityCounts, number][]) {
      acc[k] = (acc[k] ?? 0) + v;
      all[k] += v;
    }
    byArea.set(area, acc);
  }
  return { byArea, all };
}

/** Soak runs (`npm run test:soak`) multiply the sizes. */
export const SOAK = process.env.SOAK === '1';
export function size(ci: number, soak: number): number {
  return SOAK ? soak : ci;
}
