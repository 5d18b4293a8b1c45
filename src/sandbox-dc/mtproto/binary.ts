/**
 * Bounds-checked little-endian reader/writer for the few fixed-layout structures the protocol core lays
 * out itself: message headers and the key-exchange constructors. API objects go through tl/.
 */
import Long from 'long';

export class BinaryUnderflow extends Error {
  constructor(what: string) {
    super(`truncated input reading ${what}`);
    this.name = 'BinaryUnderflow';
  }
}

export class BinaryReader {
  pos = 0;
  private readonly dv: DataView;
  constructor(readonly data: Uint8Array) {
    this.dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get remaining(): number {
    return this.data.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.data.length) throw new BinaryUnderflow(what);
  }

  uint32(): number {
    this.need(4, 'int');
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  int32(): number {
    this.need(4, 'int');
    const v = this.dv.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  long(): Long {
    this.need(8, 'long');
    const lo = this.dv.getInt32(this.pos, true);
    const hi = this.dv.getInt32(this.pos + 4, true);
    this.pos += 8;
    return new Long(lo, hi);
  }

  raw(n: number): Uint8Array {
    this.need(n, 'raw bytes');
    const out = this.data.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** TL `bytes`/`string`: 1-byte length (≤253) or 254 + 3-byte length, padded to 4. */
  bytes(): Uint8Array {
    this.need(1, 'bytes length');
    let len = this.data[this.pos];
    let header = 1;
    if (len === 254) {
      this.need(4, 'bytes length');
      len = this.data[this.pos + 1] | (this.data[this.pos + 2] << 8) | (this.data[this.pos + 3] << 16);
      header = 4;
    } else if (len === 255) {
      throw new BinaryUnderflow('bytes (invalid length marker)');
    }
    const padded = (header + len + 3) & ~3;
    this.need(padded, 'bytes');
    const out = this.data.slice(this.pos + header, this.pos + header + len);
    this.pos += padded;
    return out;
  }

  /** Boxed Vector<long>. */
  longVector(): Long[] {
    if (this.uint32() !== 0x1cb5c415) throw new BinaryUnderflow('vector (bad constructor)');
    const n = this.uint32();
    if (n * 8 > this.remaining) throw new BinaryUnderflow('vector');
    const out: Long[] = [];
    for (let i = 0; i < n; i++) out.push(this.long());
    return out;
  }
}

export class BinaryWriter {
  private buf = new Uint8Array(256);
  private dv = new DataView(this.buf.buffer);
  pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.dv = new DataView(grown.buffer);
  }

  uint32(v: number): this {
    this.ensure(4);
    this.dv.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.dv.setInt32(this.pos, v | 0, true);
    this.pos += 4;
    return this;
  }

  long(v: Long): this {
    this.ensure(8);
    this.dv.setInt32(this.pos, v.low, true);
    this.dv.setInt32(this.pos + 4, v.high, true);
    this.pos += 8;
    return this;
  }

  raw(data: Uint8Array): this {
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    return this;
  }

  bytes(data: Uint8Array): this {
    const header = data.length <= 253 ? 1 : 4;
    const padded = (header + data.length + 3) & ~3;
    this.ensure(padded);
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
    return this;
  }

  longVector(values: Long[]): this {
    this.uint32(0x1cb5c415).uint32(values.length);
    for (const v of values) this.long(v);
    return this;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export function toHex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}

export function longToHex(v: Long): string {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, v.low, true);
  dv.setInt32(4, v.high, true);
  return toHex(b);
}
