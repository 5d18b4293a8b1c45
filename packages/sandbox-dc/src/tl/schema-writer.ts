/**
 * Schema-driven TL writer: serializes objects of any layer the DC has a schema for (the native layer
 * has mtcute's generated writer, writer.ts). The input is what layer-convert.ts produces for that
 * layer: every required field present, flags computed here from the optional fields that are set.
 */
import Long from 'long';
import type { TlObject } from '../types.js';
import { ID_BOOL_FALSE, ID_BOOL_TRUE, ID_VECTOR } from './ids.js';
import type { TlArg, TlArgKind, TlConstructor, TlSchema } from './schema.js';
import { TlSerializeError } from './writer.js';

const utf8 = new TextEncoder();

class GrowableWriter {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  uint(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  int(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.pos, v | 0, true);
    this.pos += 4;
  }

  long(v: Long): void {
    this.reserve(8);
    this.view.setInt32(this.pos, v.low, true);
    this.view.setInt32(this.pos + 4, v.high, true);
    this.pos += 8;
  }

  double(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** TL `bytes`: 1- or 4-byte length prefix, data, zero padding to a multiple of 4. */
  bytes(data: Uint8Array): void {
    const header = data.length <= 253 ? 1 : 4;
    const padded = Math.ceil((header + data.length) / 4) * 4;
    this.reserve(padded);
    if (header === 1) this.buf[this.pos] = data.length;
    else {
      this.buf[this.pos] = 254;
      this.buf[this.pos + 1] = data.length & 0xff;
      this.buf[this.pos + 2] = (data.length >> 8) & 0xff;
      this.buf[this.pos + 3] = (data.length >> 16) & 0xff;
    }
    this.buf.set(data, this.pos + header);
    this.buf.fill(0, this.pos + header + data.length, this.pos + padded);
    this.pos += padded;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

function fail(ctor: string, field: string, what: string): never {
  throw new TlSerializeError(`cannot serialize ${ctor}.${field}: ${what}`);
}

function toLong(v: unknown): Long | undefined {
  if (Long.isLong(v)) return v as Long;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return Long.fromNumber(v);
  if (typeof v === 'bigint') return Long.fromString(v.toString());
  return undefined;
}

/** A flag bit is set when its field is present; a `true`-typed field only when it is true. */
function isPresent(arg: TlArg, v: unknown): boolean {
  return arg.kind === 'true' && !arg.vector ? v === true : v !== undefined && v !== null;
}

class SchemaWriter {
  readonly w = new GrowableWriter();

  constructor(private readonly schema: TlSchema) {}

  /** Boxed: an object with its constructor id, an array as Vector, a boolean as Bool. */
  boxed(value: unknown, where: string): void {
    if (typeof value === 'boolean') return this.w.uint(value ? ID_BOOL_TRUE : ID_BOOL_FALSE);
    if (Array.isArray(value)) {
      this.w.uint(ID_VECTOR);
      this.w.uint(value.length);
      for (const item of value) this.boxed(item, where);
      return;
    }
    if (value === null || typeof value !== 'object' || typeof (value as TlObject)._ !== 'string') {
      throw new TlSerializeError(`cannot serialize ${where}: not a TL object`);
    }
    const obj = value as TlObject;
    const ctor = this.schema.byName.get(obj._);
    if (!ctor) throw new TlSerializeError(`layer ${this.schema.layer} has no constructor ${obj._}`);
    this.w.uint(ctor.id);
    this.body(ctor, obj);
  }

  body(ctor: TlConstructor, obj: TlObject): void {
    for (const arg of ctor.args) {
      const v = obj[arg.name];
      if (arg.kind === 'flags') {
        let flags = 0;
        for (const other of ctor.args) {
          if (other.flagsField === arg.name && isPresent(other, obj[other.name])) flags |= 1 << other.flagBit!;
        }
        this.w.uint(flags);
        continue;
      }
      if (arg.flagsField !== undefined) {
        if (arg.kind === 'true' && !arg.vector) continue; // carried by the flag bit alone
        if (!isPresent(arg, v)) continue;
      } else if (v === undefined || v === null) {
        fail(ctor.name, arg.name, 'required field missing');
      }
      if (!arg.vector) {
        this.value(arg.kind, v, arg, ctor.name);
        continue;
      }
      if (!Array.isArray(v)) fail(ctor.name, arg.name, 'expected an array');
      if (!arg.bareVector) this.w.uint(ID_VECTOR);
      this.w.uint(v.length);
      for (const item of v) this.value(arg.kind, item, arg, ctor.name);
    }
  }

  private value(kind: TlArgKind, v: unknown, arg: TlArg, ctorName: string): void {
    switch (kind) {
      case 'int':
        if (typeof v !== 'number') fail(ctorName, arg.name, 'expected a number');
        return this.w.int(v);
      case 'long':
      case 'int53': {
        const long = toLong(v);
        if (!long) fail(ctorName, arg.name, 'expected a 64-bit integer');
        return this.w.long(long);
      }
      case 'double':
        if (typeof v !== 'number') fail(ctorName, arg.name, 'expected a number');
        return this.w.double(v);
      case 'int128':
      case 'int256': {
        const size = kind === 'int128' ? 16 : 32;
        if (!(v instanceof Uint8Array) || v.length !== size) fail(ctorName, arg.name, `expected ${size} bytes`);
        return this.w.raw(v);
      }
      case 'bytes':
        if (typeof v === 'string') return this.w.bytes(utf8.encode(v));
        if (!(v instanceof Uint8Array)) fail(ctorName, arg.name, 'expected bytes');
        return this.w.bytes(v);
      case 'string':
        if (typeof v !== 'string') fail(ctorName, arg.name, 'expected a string');
        return this.w.bytes(utf8.encode(v));
      case 'Bool':
        if (typeof v !== 'boolean') fail(ctorName, arg.name, 'expected a boolean');
        return this.w.uint(v ? ID_BOOL_TRUE : ID_BOOL_FALSE);
      case 'true':
        return; // a bare `true` carries no bytes
      case 'object':
        return this.boxed(v, `${ctorName}.${arg.name}`);
      case 'bare': {
        const ctor = this.schema.byId.get(arg.bareId!);
        if (!ctor || v === null || typeof v !== 'object') fail(ctorName, arg.name, 'expected a bare object');
        return this.body(ctor, v as TlObject);
      }
      case 'flags':
        fail(ctorName, arg.name, 'flags are computed, not written');
    }
  }
}

/**
 * Boxed serialization in `schema`'s layer: a TL object, an array as Vector<object>, a boolean as Bool.
 * Throws TlSerializeError when the object does not fit the schema (unknown constructor, missing field).
 */
export function serializeTlWithSchema(value: TlObject | TlObject[] | boolean, schema: TlSchema): Uint8Array {
  const writer = new SchemaWriter(schema);
  writer.boxed(value, 'answer');
  return writer.w.result();
}
