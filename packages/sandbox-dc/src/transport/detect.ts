import { AbridgedCodec, FullCodec, IntermediateCodec } from './framing.js';
import { ObfuscatedCodec, openObfuscation } from './obfuscated.js';
import { TransportViolation, type FrameCodec } from './types.js';

export interface DetectedTransport {
  codec: FrameCodec;
  obfuscated: boolean;
  /** For obfuscated connections, the DC id from the init (informational). */
  requestedDcId?: number;
}

const TAG_ABRIDGED = 0xefefefef;
const TAG_INTERMEDIATE = 0xeeeeeeee;
const TAG_PADDED = 0xdddddddd;
/** First words of HTTP requests ("POST", "GET ", "HEAD", "OPTI"), which this DC does not serve. */
const HTTP_WORDS = new Set([0x54534f50, 0x20544547, 0x44414548, 0x4954504f]);

function u32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

function codecForTag(tag: number, maxFrameBytes: number): FrameCodec | null {
  if (tag === TAG_ABRIDGED) return new AbridgedCodec(maxFrameBytes);
  if (tag === TAG_INTERMEDIATE) return new IntermediateCodec(maxFrameBytes, false);
  if (tag === TAG_PADDED) return new IntermediateCodec(maxFrameBytes, true);
  return null;
}

/**
 * Recognises the framing from the first bytes of a connection, as a Telegram DC does:
 * `ef` abridged, `eeeeeeee` intermediate, `dddddddd` padded intermediate, a first packet whose
 * seqno word is 0 is the full transport, anything else is a 64-byte obfuscated init.
 * Returns null while more bytes are needed; `consumed` is how many header bytes to drop.
 */
export function detectTransport(
  head: Uint8Array,
  maxFrameBytes: number,
): { transport: DetectedTransport; consumed: number } | null {
  if (head.length < 1) return null;
  if (head[0] === 0xef) return { transport: { codec: new AbridgedCodec(maxFrameBytes), obfuscated: false }, consumed: 1 };
  if (head.length < 4) return null;
  const first = u32(head, 0);
  if (first === TAG_INTERMEDIATE || first === TAG_PADDED) {
    return { transport: { codec: codecForTag(first, maxFrameBytes)!, obfuscated: false }, consumed: 4 };
  }
  if (HTTP_WORDS.has(first)) throw new TransportViolation('HTTP transport is not served');
  if (head.length < 8) return null;
  if (u32(head, 4) === 0) return { transport: { codec: new FullCodec(maxFrameBytes), obfuscated: false }, consumed: 0 };
  if (head.length < 64) return null;
  const keys = openObfuscation(head.subarray(0, 64));
  const inner = codecForTag(u32(keys.innerTag, 0), maxFrameBytes);
  if (!inner) throw new TransportViolation('obfuscated init carries an unknown protocol tag');
  return {
    transport: { codec: new ObfuscatedCodec(inner, keys), obfuscated: true, requestedDcId: keys.dcId },
    consumed: 64,
  };
}
