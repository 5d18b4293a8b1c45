import { randomBytes, randomInt } from 'node:crypto';
import { ByteQueue } from './byte-queue.js';
import { crc32 } from './crc32.js';
import { TransportViolation, type FrameCodec, type FramingKind } from './types.js';

/** Every frame payload must be a positive multiple of 4 no larger than the limit. */
function checkLength(len: number, maxFrameBytes: number, what: string): void {
  if (len === 0 || len > maxFrameBytes) throw new TransportViolation(`${what} frame length ${len} out of range`);
}

/** What every codec keeps: the bytes received but not yet a whole frame, and the frame size limit. */
abstract class BufferingCodec {
  protected readonly queue = new ByteQueue();
  constructor(protected readonly maxFrameBytes: number) {}

  get buffered(): number {
    return this.queue.length;
  }
}

/** Abridged: 1 byte length/4 (0x7f then 3 bytes LE for long frames); top bit = quick-ack request. */
export class AbridgedCodec extends BufferingCodec implements FrameCodec {
  readonly kind: FramingKind = 'abridged';

  decode(chunk: Uint8Array): Uint8Array[] {
    this.queue.push(chunk);
    const frames: Uint8Array[] = [];
    for (;;) {
      const q = this.queue;
      if (q.length < 1) break;
      const first = q.at(0) & 0x7f;
      let header = 1;
      let len = first * 4;
      if (first === 0x7f) {
        if (q.length < 4) break;
        header = 4;
        len = (q.at(1) | (q.at(2) << 8) | (q.at(3) << 16)) * 4;
      }
      checkLength(len, this.maxFrameBytes, 'abridged');
      if (q.length < header + len) break;
      q.skip(header);
      frames.push(q.take(len));
    }
    return frames;
  }

  encode(payload: Uint8Array): Uint8Array {
    const words = payload.length >> 2;
    if (words < 0x7f) {
      const out = new Uint8Array(1 + payload.length);
      out[0] = words;
      out.set(payload, 1);
      return out;
    }
    const out = new Uint8Array(4 + payload.length);
    out[0] = 0x7f;
    out[1] = words & 0xff;
    out[2] = (words >> 8) & 0xff;
    out[3] = (words >> 16) & 0xff;
    out.set(payload, 4);
    return out;
  }
}

/** Intermediate: uint32 LE length (top bit = quick-ack request). Padded: the length includes 0–15 random bytes. */
export class IntermediateCodec extends BufferingCodec implements FrameCodec {
  readonly kind: FramingKind;
  constructor(
    maxFrameBytes: number,
    private readonly padded: boolean,
  ) {
    super(maxFrameBytes);
    this.kind = padded ? 'padded-intermediate' : 'intermediate';
  }

  decode(chunk: Uint8Array): Uint8Array[] {
    this.queue.push(chunk);
    const frames: Uint8Array[] = [];
    while (this.queue.length >= 4) {
      const len = this.queue.uint32le(0) & 0x7fffffff;
      checkLength(len, this.maxFrameBytes, this.kind);
      if (!this.padded && len % 4 !== 0) throw new TransportViolation(`intermediate frame length ${len} not a multiple of 4`);
      if (this.queue.length < 4 + len) break;
      this.queue.skip(4);
      frames.push(this.queue.take(len));
    }
    return frames;
  }

  encode(payload: Uint8Array): Uint8Array {
    // A 4-byte payload is a transport error: it goes unpadded, since clients (mtcute) recognise
    // errors by a frame length of exactly 4. No MTProto message is that short.
    const pad = this.padded && payload.length > 4 ? randomInt(16) : 0;
    const out = new Uint8Array(4 + payload.length + pad);
    new DataView(out.buffer).setUint32(0, payload.length + pad, true);
    out.set(payload, 4);
    if (pad) out.set(randomBytes(pad), 4 + payload.length);
    return out;
  }
}

/** Full: uint32 total length | uint32 seqno | payload | crc32 of all before it. Seqnos count from 0 each way. */
export class FullCodec extends BufferingCodec implements FrameCodec {
  readonly kind: FramingKind = 'full';
  private inSeq = 0;
  private outSeq = 0;

  decode(chunk: Uint8Array): Uint8Array[] {
    this.queue.push(chunk);
    const frames: Uint8Array[] = [];
    while (this.queue.length >= 4) {
      const total = this.queue.uint32le(0);
      if (total < 16 || total % 4 !== 0) throw new TransportViolation(`full frame length ${total} invalid`);
      checkLength(total - 12, this.maxFrameBytes, 'full');
      if (this.queue.length < total) break;
      const frame = this.queue.take(total);
      const dv = new DataView(frame.buffer, frame.byteOffset, frame.length);
      const seq = dv.getUint32(4, true);
      const crc = dv.getUint32(total - 4, true);
      if (crc32(frame.subarray(0, total - 4)) !== crc) throw new TransportViolation('full frame CRC mismatch');
      if (seq !== this.inSeq) throw new TransportViolation(`full frame seqno ${seq}, expected ${this.inSeq}`);
      this.inSeq++;
      frames.push(frame.slice(8, total - 4));
    }
    return frames;
  }

  encode(payload: Uint8Array): Uint8Array {
    const total = payload.length + 12;
    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, total, true);
    dv.setUint32(4, this.outSeq++, true);
    out.set(payload, 8);
    dv.setUint32(total - 4, crc32(out.subarray(0, total - 4)), true);
    return out;
  }
}
