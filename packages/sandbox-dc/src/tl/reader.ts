/**
 * Schema-driven TL reader for everything a client may send: API methods and classes, MTProto service
 * objects, msg_container and gzip_packed. Hostile input is expected: every read is bounds-checked,
 * vector counts are checked against the bytes left, nesting depth and inflated sizes are capped, and
 * every failure is a TlParseError.
 */
import { unzipSync } from 'node:zlib';
import Long from 'long';
import type { TlObject } from '../types.js';
import { TlParseError } from './errors.js';
import { ID_BOOL_FALSE, ID_BOOL_TRUE, ID_GZIP_PACKED, ID_MSG_CONTAINER, ID_NULL, ID_TRUE, ID_VECTOR } from './ids.js';
import { tlSchema, type TlArg, type TlArgKind, type TlConstructor, type TlSchema } from './schema.js';

/** Deepest nesting of objects/vectors accepted (real requests stay far below). */
const MAX_DEPTH = 64;
/** Largest gzip_packed payload we inflate (a client message is at most about 1 MB; this stops zip bombs). */
const MAX_INFLATED_BYTES = 16 * 1024 * 1024;
/** Most messages one msg_container may carry (clients send far fewer; Telegram's own limit is 1020). */
const MAX_CONTAINER_MESSAGES = 1024;
/** Smallest encoded size of one vector element, to bound counts by the bytes left. */
const MIN_ELEMENT_SIZE: Record<TlArgKind, number> = {
  flags: 4, true: 4, int: 4, long: 8, int53: 8, double: 8, int128: 16, int256: 32,
  bytes: 4, string: 4, Bool: 4, object: 4, bare: 0,
};

const utf8 = new TextDecoder('utf-8');

/** Inflates gzip_packed data, zlib (mtcute: 78 9c) or gzip (1f 8b) framing, at most `limit` bytes out. */
function inflate(packed: Uint8Array, limit: number): Uint8Array {
  try {
    const out = unzipSync(packed, { maxOutputLength: Math.max(1, limit) });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    throw new TlParseError(`bad gzip_packed data: ${(err as Error).message}`);
  }
}

/** One element of a parsed msg_container; `body` is the raw inner message, for parseTl. */
export interface TlContainerMessage {
  msgId: Long;
  seqNo: number;
  body: Uint8Array;
}

class TlReader {
  pos: number;
  private readonly data: Uint8Array;
  private readonly view: DataView;
  private depth = 0;

  constructor(
    data: Uint8Array,
    start: number,
    private readonly gzipBudget: { left: number },
    private readonly schema: TlSchema,
  ) {
    // A plain Uint8Array view even when given a Buffer, so that slice() copies and yields Uint8Array.
    this.data = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.pos = start;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.data.length) {
      throw new TlParseError(`truncated TL data: ${what} needs ${n} bytes at offset ${this.pos}, ${this.data.length - this.pos} left`);
    }
  }

  get remaining(): number {
    return this.data.length - this.pos;
  }

  uint(): number {
    this.need(4, 'int');
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  int(): number {
    this.need(4, 'int');
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  long(): Long {
    this.need(8, 'long');
    const v = new Long(this.view.getInt32(this.pos, true), this.view.getInt32(this.pos + 4, true));
    this.pos += 8;
    return v;
  }

  /** int64 as a JS number, the way mtcute reads its `int53` fields. */
  int53(): number {
    this.need(8, 'long');
    const v = (this.view.getInt32(this.pos, true) >>> 0) + 0x1_0000_0000 * this.view.getInt32(this.pos + 4, true);
    this.pos += 8;
    return v;
  }

  double(): number {
    this.need(8, 'double');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  raw(n: number, what: string): Uint8Array {
    this.need(n, what);
    const v = this.data.slice(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  bytes(): Uint8Array {
    this.need(1, 'bytes length');
    let length = this.data[this.pos]!;
    let header = 1;
    if (length === 254) {
      this.need(4, 'bytes length');
      length = this.data[this.pos + 1]! | (this.data[this.pos + 2]! << 8) | (this.data[this.pos + 3]! << 16);
      header = 4;
    } else if (length === 255) {
      throw new TlParseError(`invalid bytes length prefix 0xff at offset ${this.pos}`);
    }
    const padded = Math.ceil((header + length) / 4) * 4;
    this.need(padded, 'bytes');
    const v = this.data.slice(this.pos + header, this.pos + header + length);
    this.pos += padded;
    return v;
  }

  bool(): boolean {
    const id = this.uint();
    if (id === ID_BOOL_TRUE) return true;
    if (id === ID_BOOL_FALSE) return false;
    throw new TlParseError(`expected Bool, got constructor 0x${id.toString(16)}`, id);
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw new TlParseError(`TL nesting deeper than ${MAX_DEPTH}`);
  }

  private leave(): void {
    this.depth--;
  }

  /**
   * A boxed value of any type: an object, or a vector / Bool / null, as mtcute's reader returns them.
   * `methodPosition`: the value is a query (`!X`), so an unknown id is an unknown method.
   */
  boxed(methodPosition = false): unknown {
    const id = this.uint();
    switch (id) {
      case ID_VECTOR:
        return this.vectorBody('object');
      case ID_BOOL_TRUE:
      case ID_TRUE:
        return true;
      case ID_BOOL_FALSE:
        return false;
      case ID_NULL:
        return null;
      case ID_GZIP_PACKED:
        return this.gzipPacked();
      case ID_MSG_CONTAINER:
        return { _: 'mt_msg_container', messages: this.containerBody() };
      default: {
        const ctor = this.schema.byId.get(id);
        if (!ctor) throw new TlParseError(`unknown TL constructor 0x${id.toString(16).padStart(8, '0')}`, id, methodPosition);
        return this.body(ctor);
      }
    }
  }

  /** A boxed value that must be an object (a field typed with a class, or `!X`). */
  object(): TlObject {
    const v = this.boxed();
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw new TlParseError(`expected a TL object, got ${Array.isArray(v) ? 'a vector' : String(v)}`);
    }
    return v as TlObject;
  }

  body(ctor: TlConstructor): TlObject {
    this.enter();
    const out: TlObject = { _: ctor.name };
    const flags: Record<string, number> = {};
    for (const arg of ctor.args) {
      if (arg.kind === 'flags') {
        flags[arg.name] = this.uint();
        continue;
      }
      if (arg.flagsField !== undefined) {
        const set = ((flags[arg.flagsField] ?? 0) >>> arg.flagBit!) & 1;
        if (arg.kind === 'true') {
          out[arg.name] = set === 1;
          continue;
        }
        if (!set) {
          out[arg.name] = undefined;
          continue;
        }
      }
      out[arg.name] = arg.vector ? this.vector(arg) : arg.type === '!X' ? this.boxed(true) : this.value(arg.kind, arg.bareId);
    }
    this.leave();
    return out;
  }

  private value(kind: TlArgKind, bareId?: number): unknown {
    switch (kind) {
      case 'int':
        return this.int();
      case 'long':
        return this.long();
      case 'int53':
        return this.int53();
      case 'double':
        return this.double();
      case 'int128':
        return this.raw(16, 'int128');
      case 'int256':
        return this.raw(32, 'int256');
      case 'bytes':
        return this.bytes();
      case 'string':
        return utf8.decode(this.bytes());
      case 'Bool':
        return this.bool();
      case 'true':
        return true;
      case 'object':
        return this.boxed();
      case 'bare': {
        const ctor = this.schema.byId.get(bareId!);
        if (!ctor) throw new TlParseError(`unknown bare constructor 0x${bareId!.toString(16)}`);
        return this.body(ctor);
      }
      case 'flags':
        return this.uint();
    }
  }

  private vector(arg: TlArg): unknown[] {
    if (!arg.bareVector) {
      const id = this.uint();
      if (id !== ID_VECTOR) throw new TlParseError(`expected vector, got constructor 0x${id.toString(16)}`, id);
    }
    let minSize = MIN_ELEMENT_SIZE[arg.kind];
    if (arg.kind === 'bare') minSize = Math.max(4, this.minBareSize(arg.bareId!));
    return this.vectorBody(arg.kind, arg.bareId, minSize);
  }

  private minBareSize(id: number): number {
    const ctor = this.schema.byId.get(id);
    return ctor ? ctor.args.reduce((n, a) => n + (a.flagsField ? 0 : MIN_ELEMENT_SIZE[a.kind]), 0) : 4;
  }

  private vectorBody(kind: TlArgKind, bareId?: number, minSize = MIN_ELEMENT_SIZE[kind]): unknown[] {
    const count = this.uint();
    if (count * Math.max(minSize, 1) > this.remaining) {
      throw new TlParseError(`vector of ${count} elements cannot fit in ${this.remaining} bytes`);
    }
    this.enter();
    const out = new Array<unknown>(count);
    for (let i = 0; i < count; i++) out[i] = this.value(kind, bareId);
    this.leave();
    return out;
  }

  /** gzip_packed packed_data:bytes → the object it contains (zlib or gzip framing). */
  private gzipPacked(): unknown {
    const inflated = inflate(this.bytes(), this.gzipBudget.left);
    this.gzipBudget.left -= inflated.length;
    this.enter();
    const inner = new TlReader(inflated, 0, this.gzipBudget, this.schema);
    inner.depth = this.depth;
    const value = inner.boxed();
    this.leave();
    return value;
  }

  /** msg_container: a bare vector of bare `message msg_id:long seqno:int bytes:int body:Object`. */
  containerBody(): TlContainerMessage[] {
    const count = this.uint();
    if (count > MAX_CONTAINER_MESSAGES) throw new TlParseError(`msg_container of ${count} messages (at most ${MAX_CONTAINER_MESSAGES})`);
    if (count * 16 > this.remaining) throw new TlParseError(`msg_container of ${count} messages cannot fit in ${this.remaining} bytes`);
    const messages: TlContainerMessage[] = [];
    for (let i = 0; i < count; i++) {
      const msgId = this.long();
      const seqNo = this.int();
      const length = this.int();
      if (length < 0 || length % 4 !== 0 || length > this.remaining) {
        throw new TlParseError(`msg_container message with invalid length ${length}`);
      }
      messages.push({ msgId, seqNo, body: this.raw(length, 'message body') });
    }
    return messages;
  }
}

function toParseError(err: unknown): TlParseError {
  if (err instanceof TlParseError) return err;
  // Stack overflow or an engine limit: still just bad input.
  return new TlParseError(`invalid TL data: ${(err as Error)?.message ?? String(err)}`);
}

/**
 * Reads one boxed TL object starting at `offset` and tells where it ended (bytes after it are left
 * alone: RSA_PAD padding, AES padding). A msg_container comes back as
 * `{ _: 'mt_msg_container', messages: TlContainerMessage[] }` with raw bodies; gzip_packed is inflated
 * and its content returned. `schema` is the layer the bytes are in (default: the native one).
 */
export function readTlObject(data: Uint8Array, offset = 0, schema: TlSchema = tlSchema()): { value: TlObject; end: number } {
  try {
    const reader = new TlReader(data, offset, { left: MAX_INFLATED_BYTES }, schema);
    const value = reader.object();
    return { value, end: reader.pos };
  } catch (err) {
    throw toParseError(err);
  }
}

/** The constructor id a TL body starts with (unsigned), or 0 when it is shorter than 4 bytes. */
export function peekConstructorId(body: Uint8Array): number {
  return body.length >= 4 ? new DataView(body.buffer, body.byteOffset, 4).getUint32(0, true) : 0;
}

/**
 * The messages of a msg_container (body starts at its constructor id), with raw bodies left for the
 * caller to dispatch one by one. Throws TlParseError on a bad layout.
 */
export function readMsgContainer(body: Uint8Array): TlContainerMessage[] {
  const reader = new TlReader(body, 0, { left: 0 }, tlSchema());
  const id = reader.uint();
  if (id !== ID_MSG_CONTAINER) throw new TlParseError(`expected msg_container, got 0x${id.toString(16)}`, id);
  return reader.containerBody();
}

/**
 * The inflated bytes of a gzip_packed object (body starts at its constructor id), zlib or gzip framing,
 * at most 16 MiB. Throws TlParseError on bad data.
 */
export function inflateGzipPacked(body: Uint8Array): Uint8Array {
  const reader = new TlReader(body, 0, { left: 0 }, tlSchema());
  const id = reader.uint();
  if (id !== ID_GZIP_PACKED) throw new TlParseError(`expected gzip_packed, got 0x${id.toString(16)}`, id);
  return inflate(reader.bytes(), MAX_INFLATED_BYTES);
}

/** Reads ONE boxed object of any kind a client may send (see readTlObject), in `schema`'s layer. Throws TlParseError. */
export function parseTl(data: Uint8Array, schema: TlSchema = tlSchema()): TlObject {
  return readTlObject(data, 0, schema).value;
}
