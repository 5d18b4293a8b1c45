/**
 * TL writer for answers: mtcute's generated writer map for every layer class and service object,
 * plus the boxed Vector<object> and Bool wrappers the map does not cover.
 */
import { TlBinaryWriter, TlSerializationCounter, __tlWriterMap } from '@mtcute/core/utils.js';
import type { TlObject } from '../types.js';
import { ID_BOOL_FALSE, ID_BOOL_TRUE, ID_VECTOR } from './ids.js';

export class TlSerializeError extends Error {
  override readonly name = 'TlSerializeError';
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function uint32(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v >>> 0, true);
  return out;
}

function serializeObject(obj: TlObject): Uint8Array {
  if (!(obj._ in __tlWriterMap)) throw new TlSerializeError(`no TL writer for ${obj._}`);
  try {
    return TlBinaryWriter.serializeObject(__tlWriterMap, obj);
  } catch (err) {
    throw new TlSerializeError(`cannot serialize ${obj._}: ${(err as Error).message}`);
  }
}

/**
 * Boxed serialization of an answer: a TL object (any layer class or `mt_*` service object mtcute
 * knows), an array as Vector<object>, a boolean as boolTrue/boolFalse. Throws TlSerializeError
 * for objects the writer cannot encode (unknown constructor, missing required field).
 */
export function serializeTl(obj: TlObject | TlObject[] | boolean): Uint8Array {
  if (typeof obj === 'boolean') return uint32(obj ? ID_BOOL_TRUE : ID_BOOL_FALSE);
  if (Array.isArray(obj)) return concat([uint32(ID_VECTOR), uint32(obj.length), ...obj.map(serializeObject)]);
  return serializeObject(obj);
}

/** Boxed Vector of primitives (e.g. Vector<long> / Vector<int> results). */
export function serializeTlVector(kind: 'int' | 'long' | 'int53' | 'string' | 'bytes', items: unknown[]): Uint8Array {
  const counter = new TlSerializationCounter(__tlWriterMap);
  const write = (w: TlBinaryWriter | TlSerializationCounter): void => {
    w.uint(ID_VECTOR);
    w.uint(items.length);
    for (const item of items) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      (w as any)[kind](item);
    }
  };
  write(counter);
  const writer = TlBinaryWriter.alloc(__tlWriterMap, counter.count);
  write(writer);
  return writer.result();
}
