import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from 'node:crypto';
import type { FrameCodec, FramingKind } from './types.js';

/**
 * Obfuscated transport: the client's 64-byte init carries the AES-256-CTR keys for both directions;
 * everything after it (and the inner protocol tag at init[56..60]) is encrypted.
 */
export interface ObfuscationKeys {
  decipher: Decipher;
  cipher: Cipher;
  /** init[56..60] after decryption: the inner framing tag. */
  innerTag: Uint8Array;
  /** init[60..62]: the DC id the client wants (int16 LE, may be ±, +10000 for test DCs). */
  dcId: number;
}

export function openObfuscation(init: Uint8Array): ObfuscationKeys {
  // Client → server: key = init[8..40], iv = init[40..56]. Server → client: the same 48 bytes reversed.
  const decipher = createDecipheriv('aes-256-ctr', init.subarray(8, 40), init.subarray(40, 56));
  const reversed = Uint8Array.from(init.subarray(8, 56)).reverse();
  const cipher = createCipheriv('aes-256-ctr', reversed.subarray(0, 32), reversed.subarray(32, 48));
  // The decryptor's keystream starts at byte 0 of the init, so run the init through it first.
  const plainInit = new Uint8Array(decipher.update(init));
  const innerTag = plainInit.slice(56, 60);
  const dcId = new DataView(plainInit.buffer, plainInit.byteOffset).getInt16(60, true);
  return { decipher, cipher, innerTag, dcId };
}

/** Wraps a plain codec in the connection's AES-CTR streams. */
export class ObfuscatedCodec implements FrameCodec {
  readonly kind: FramingKind;
  constructor(
    private readonly inner: FrameCodec,
    private readonly keys: ObfuscationKeys,
  ) {
    this.kind = inner.kind;
  }

  get buffered(): number {
    return this.inner.buffered;
  }

  decode(chunk: Uint8Array): Uint8Array[] {
    return this.inner.decode(new Uint8Array(this.keys.decipher.update(chunk)));
  }

  encode(payload: Uint8Array): Uint8Array {
    return new Uint8Array(this.keys.cipher.update(this.inner.encode(payload)));
  }
}
