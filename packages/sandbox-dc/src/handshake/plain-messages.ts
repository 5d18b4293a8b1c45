/**
 * Unencrypted messages (auth_key_id = 0), which carry only the key exchange:
 * auth_key_id(8) = 0 | message_id(8) | message_data_length(4) | message_data.
 */
import type Long from 'long';
import { TlBinaryReader, TlBinaryWriter } from '@mtcute/core/utils.js';

export function isPlainMessage(frame: Uint8Array): boolean {
  if (frame.length < 8) return false;
  for (let i = 0; i < 8; i++) if (frame[i] !== 0) return false;
  return true;
}

/** The body of a plain message, or null when the header is inconsistent. Trailing bytes (padded transport) are ignored. */
export function readPlainMessage(frame: Uint8Array): { msgId: Long; body: Uint8Array } | null {
  if (frame.length < 20) return null;
  const r = TlBinaryReader.manual(frame, 8);
  const msgId = r.long();
  const length = r.uint();
  if (length < 4 || length > frame.length - 20) return null;
  return { msgId, body: frame.subarray(20, 20 + length) };
}

export function writePlainMessage(msgId: Long, body: Uint8Array): Uint8Array {
  const w = TlBinaryWriter.manual(20 + body.length);
  w.uint(0); // auth_key_id = 0
  w.uint(0);
  w.long(msgId);
  w.uint(body.length);
  w.raw(body);
  return w.result();
}
