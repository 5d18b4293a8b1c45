/**
 * Test helper: builds sample objects for any constructor of a layer schema (the native one by default),
 * filled with values of the right types, so a writer can serialize them and our reader can be checked
 * against it.
 */
import { createRequire } from 'node:module';
import Long from 'long';

interface RawArg {
  name: string;
  type: string;
  typeModifiers?: { predicate?: string; isVector?: boolean };
}
export interface RawEntry {
  kind: 'class' | 'method';
  name: string;
  id: number;
  type: string;
  arguments: RawArg[];
}

const require = createRequire(import.meta.url);
export const apiSchema = require('@mtcute/core/tl/api-schema.json') as { l: number; e: RawEntry[] };

const camel = (s: string) => s.replace(/_([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());

const PRIMITIVES = new Set(['#', 'true', 'int', 'long', 'int53', 'double', 'int128', 'int256', 'bytes', 'string', 'Bool']);

function objectArgCount(e: RawEntry): number {
  return e.arguments.filter((a) => !a.typeModifiers?.predicate && !PRIMITIVES.has(a.type)).length;
}

export type Mode = 'full' | 'minimal';
export type SampleObject = (entry: RawEntry, mode: Mode, depth?: number, seed?: number) => { _: string } & Record<string, unknown>;

/** A sample builder over one layer's entries (mtcute's schema JSON shape). */
export function makeSampler(entries: readonly RawEntry[]): SampleObject {
  const classesByType = new Map<string, RawEntry[]>();
  for (const e of entries) {
    if (e.kind !== 'class') continue;
    const list = classesByType.get(e.type) ?? [];
    list.push(e);
    classesByType.set(e.type, list);
  }

  /** Picks a constructor of `type`: varied by `seed` near the top, the simplest one deeper down. */
  function pickClass(type: string, depth: number, seed: number): RawEntry {
    const list = classesByType.get(type);
    if (!list || list.length === 0) throw new Error(`no classes for ${type}`);
    if (depth < 2) return list[seed % list.length]!;
    return [...list].sort((a, b) => objectArgCount(a) - objectArgCount(b) || a.arguments.length - b.arguments.length)[0]!;
  }

  function sampleValue(type: string, mode: Mode, depth: number, seed: number): unknown {
    switch (type) {
      case 'int':
        return -123456 + seed;
      case 'long':
        return Long.fromString('-8123456789012345').add(seed);
      case 'int53':
        return 1234567890123 + seed;
      case 'double':
        return 1.25 + seed;
      case 'int128':
        return new Uint8Array(16).fill(7);
      case 'int256':
        return new Uint8Array(32).fill(9);
      case 'bytes':
        return seed % 2 ? new Uint8Array(300).fill(5) : Uint8Array.of(1, 2, 3);
      case 'string':
        return seed % 2 ? 'héllo ✓ ' + 'x'.repeat(260) : 'abc';
      case 'Bool':
        return seed % 2 === 0;
      case 'true':
        return true;
      case '!X':
      case 'X':
        return { _: 'help.getConfig' };
      default:
        return sampleObject(pickClass(type, depth, seed), mode, depth + 1, seed);
    }
  }

  function sampleObject(entry: RawEntry, mode: Mode, depth = 0, seed = 0): { _: string } & Record<string, unknown> {
    if (depth > 20) throw new Error(`sample for ${entry.name} does not terminate`);
    const out: { _: string } & Record<string, unknown> = { _: entry.name };
    for (const arg of entry.arguments) {
      if (arg.type === '#') continue;
      const optional = Boolean(arg.typeModifiers?.predicate);
      // Deep down, leave optional fields out so recursive types terminate.
      if (optional && (mode === 'minimal' || depth > 3)) continue;
      const value = () => sampleValue(arg.type, mode, depth, seed + 1);
      out[camel(arg.name)] = arg.typeModifiers?.isVector ? [value(), sampleValue(arg.type, mode, depth, seed + 2)] : value();
    }
    return out;
  }

  return sampleObject;
}

/** Samples of the native layer. */
export const sampleObject: SampleObject = makeSampler(apiSchema.e);
