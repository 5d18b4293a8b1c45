/** A growable receive buffer: append chunks, read from the front, without quadratic copying. */
export class ByteQueue {
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.end + chunk.length > this.buf.length) {
      const needed = this.length + chunk.length;
      if (needed <= this.buf.length && this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const grown = new Uint8Array(Math.max(needed, this.buf.length * 2, 256));
        grown.set(this.buf.subarray(this.start, this.end));
        this.buf = grown;
      }
      this.end -= this.start;
      this.start = 0;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** Byte at offset `i` from the front (caller checks `i < length`). */
  at(i: number): number {
    return this.buf[this.start + i];
  }

  uint32le(offset: number): number {
    const p = this.start + offset;
    return (this.buf[p] | (this.buf[p + 1] << 8) | (this.buf[p + 2] << 16) | (this.buf[p + 3] << 24)) >>> 0;
  }

  /** A view of the first `n` bytes (valid until the next push). */
  peek(n: number): Uint8Array {
    return this.buf.subarray(this.start, this.start + n);
  }

  /** Removes and returns a copy of the first `n` bytes. */
  take(n: number): Uint8Array {
    const out = this.buf.slice(this.start, this.start + n);
    this.skip(n);
    return out;
  }

  skip(n: number): void {
    this.start += n;
    if (this.start === this.end) {
      this.start = this.end = 0;
      // Let a buffer that grew for one huge frame go.
      if (this.buf.length > 64 * 1024) this.buf = new Uint8Array(0);
    }
  }
}
