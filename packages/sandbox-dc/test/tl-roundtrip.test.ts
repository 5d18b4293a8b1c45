/**
 * Every constructor of the layer schema, filled with sample values: mtcute's writer serializes it,
 * parseTl reads it, and mtcute's writer re-serializes our object to the same bytes. For classes our
 * object must equal what mtcute's own reader produces.
 */
import { describe, expect, it } from 'vitest';
import { TlBinaryReader, TlBinaryWriter, __tlReaderMap, __tlWriterMap } from '@mtcute/node/utils.js';
import { parseTl } from '../src/tl/index.js';
import { apiSchema, sampleObject, type Mode } from './tl-samples.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const write = (obj: any): Uint8Array => TlBinaryWriter.serializeObject(__tlWriterMap, obj);

function roundTrip(kind: 'class' | 'method', mode: Mode): { checked: number; failures: string[] } {
  const failures: string[] = [];
  let checked = 0;
  for (const entry of apiSchema.e) {
    if (entry.kind !== kind || entry.name.startsWith('mtcute.')) continue; // mtcute's internal placeholders
    for (const seed of [0, 1]) {
      let bytes: Uint8Array;
      try {
        bytes = write(sampleObject(entry, mode, 0, seed));
      } catch {
        continue; // no finite sample (recursive type) or one mtcute itself cannot write: not our concern
      }
      checked++;
      try {
        const parsed = parseTl(bytes);
        const again = write(parsed);
        if (Buffer.compare(Buffer.from(again), Buffer.from(bytes)) !== 0) throw new Error('re-serialized bytes differ');
        if (kind === 'class') expect(parsed).toStrictEqual(TlBinaryReader.deserializeObject(__tlReaderMap, bytes));
      } catch (err) {
        failures.push(`${entry.name}/${mode}/${seed}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
  return { checked, failures };
}

describe('schema-wide round trip', () => {
  for (const kind of ['method', 'class'] as const) {
    for (const mode of ['full', 'minimal'] as const) {
      it(`every ${kind} (${mode} flags)`, () => {
        const { checked, failures } = roundTrip(kind, mode);
        expect(failures).toEqual([]);
        const total = apiSchema.e.filter((e) => e.kind === kind && !e.name.startsWith('mtcute.')).length;
        expect(checked).toBeGreaterThan(total * 2 * 0.98);
      });
    }
  }
});
