/** Vitest global setup: one totals file per run, printed at the end (see totals.ts). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sumTotals, TOTALS_ENV } from './totals.js';

export default function setup(): () => void {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'reliability-')), 'totals.jsonl');
  process.env[TOTALS_ENV] = file;
  return () => {
    const { byArea, all } = sumTotals(file);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    if (byArea.size === 0) return;
    const lines = ['', 'Reliability totals'];
    for (const [area, c] of byArea) lines.push(`  ${area.padEnd(28)} ${JSON.stringify(c)}`);
    lines.push(
      `  cases tried: ${all.casesTried}, kills: ${all.kills}, faults injected: ${all.faultsInjected}, ` +
        `HTTP requests: ${all.httpRequests}, sessions lost: ${all.sessionsLost}, false log-outs: ${all.falseLogouts}, ` +
        `5xx: ${all.http5xx}, crashes: ${all.crashes}, secret leaks: ${all.secretLeaks}`,
    );
    if (all.messagesSent > 0) {
      lines.push(
        `  messages sent: ${all.messagesSent}, events journaled: ${all.eventsJournaled}, delivered: ${all.eventsDelivered}, ` +
          `lost: ${all.eventsLost}, duplicated after dedupe: ${all.eventsDuplicated}`,
      );
    }
    console.log(lines.join('\n'));
  };
}
