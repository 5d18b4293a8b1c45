/**
 * Unencrypted messages (auth_key_id = 0), which carry only the key exchange:
 * auth_key_id(8) = 0 | message_id(8) | message_data_length(4) | message_data.
 */
import type Long from 'long';
import { BinaryReader, BinaryWriter } from '../mtproto/binary.js';

export function isPlainMessage(frame: Uint8Array): boolean {
  if (frame.length < 8) return false;
  for (let i = 0; i < 8; i++) if (frame[i] !== 0) return false;
  return true;
}

/** The body of a plain message, or null when the header is inconsistent. Trailing bytes (padded transport) are ignored. */
export function readPlainMessage(frame: Uint8Array): { msgId: Long; body: Uint8Array } | null {
  if (frame.length < 20) return null;
  const r = new BinaryReader(frame);
  r.pos = 8;
  const msgId = r.long();
  const length = r.uint32();
  if (length < 4 || length > r.remaining) return null;
  return { msgId, body: frame.subarray(20, 20 + length) };
}

export function writePlainMessage(msgId: Long, body: Uint8Array): Uint8Array {
  return new BinaryWriter().uint32(0).uint32(0).long(msgId).uint32(body.length).raw(body).result();
}
