/** Framing of MTProto payloads over one TCP connection (core.telegram.org/mtproto/mtproto-transports). */

export type FramingKind = 'abridged' | 'intermediate' | 'padded-intermediate' | 'full';

/** The peer broke the framing rules (bad length, bad CRC, unknown tag…). The connection must be closed. */
export class TransportViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportViolation';
  }
}

/** One direction-pair codec for a connection whose framing is known. */
export interface FrameCodec {
  readonly kind: FramingKind;
  /** Feeds received bytes; returns every complete frame payload. Throws TransportViolation. */
  decode(chunk: Uint8Array): Uint8Array[];
  /** Frames one outgoing payload (length must be a multiple of 4). */
  encode(payload: Uint8Array): Uint8Array;
  /** Bytes received but not yet part of a complete frame. */
  readonly buffered: number;
}

/** A transport error as Telegram sends it: the whole payload is the int32 `-code` (e.g. -404). */
export function transportErrorPayload(code: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, -Math.abs(code), true);
  return out;
}
