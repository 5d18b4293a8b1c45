/**
 * MTProto 2.0 message encryption (core.telegram.org/mtproto/description).
 *   msg_key_large = SHA256(auth_key[88+x : 120+x] + plaintext);  msg_key = msg_key_large[8:24]
 *   a = SHA256(msg_key + auth_key[x : x+36]);  b = SHA256(auth_key[40+x : 76+x] + msg_key)
 *   aes_key = a[0:8] + b[8:24] + a[24:32];     aes_iv = b[0:8] + a[8:24] + b[24:32]
 * x = 0 for client→server, 8 for server→client. The plaintext is salt(8) session_id(8) msg_id(8)
 * seq_no(4) length(4) body + 12..1024 random padding bytes, total a multiple of 16.
 */
import { randomBytes } from 'node:crypto';
import { aesIgeDecrypt, aesIgeEncrypt } from './aes.js';
import { bytesEqual, concatBytes } from './bigint-bytes.js';
import { sha1, sha256 } from './hash.js';

function messageKey(authKey: Uint8Array, plaintext: Uint8Array, x: 0 | 8): Uint8Array {
  return sha256(authKey.subarray(88 + x, 120 + x), plaintext).subarray(8, 24);
}

function aesKeyIv(authKey: Uint8Array, msgKey: Uint8Array, x: 0 | 8): { key: Uint8Array; iv: Uint8Array } {
  const a = sha256(msgKey, authKey.subarray(x, x + 36));
  const b = sha256(authKey.subarray(40 + x, 76 + x), msgKey);
  return {
    key: concatBytes(a.subarray(0, 8), b.subarray(8, 24), a.subarray(24, 32)),
    iv: concatBytes(b.subarray(0, 8), a.subarray(8, 24), b.subarray(24, 32)),
  };
}

/** The 8 auth_key_id bytes as they appear on the wire. */
export function authKeyIdBytes(authKey: Uint8Array): Uint8Array {
  return sha1(authKey).subarray(12, 20);
}

/**
 * Encrypts `plaintext` (salt … body, without padding) and returns the full encrypted message
 * `auth_key_id(8) | msg_key(16) | encrypted_data`. Adds 12..1024 random padding bytes.
 */
export function encryptMessage(authKey: Uint8Array, plaintext: Uint8Array, x: 0 | 8): Uint8Array {
  const minPadding = 12 + ((16 - ((plaintext.length + 12) % 16)) % 16);
  // A few random extra blocks, as the protocol recommends, staying within the 1024 limit.
  const extraBlocks = randomBytes(1)[0]! % 4;
  const padding = Math.min(minPadding + extraBlocks * 16, 1024);
  const padded = concatBytes(plaintext, randomBytes(padding));
  const msgKey = messageKey(authKey, padded, x);
  const { key, iv } = aesKeyIv(authKey, msgKey, x);
  return concatBytes(authKeyIdBytes(authKey), msgKey, aesIgeEncrypt(padded, key, iv));
}

/**
 * Decrypts a whole encrypted message (auth_key_id included) and checks its msg_key; returns the
 * plaintext with its padding (salt, session_id, msg_id, seq_no, length, body, padding), or null
 * when the key id, length or msg_key do not match. Checking the inner length field and the padding
 * size is left to the caller, which parses the header.
 */
export function decryptMessage(authKey: Uint8Array, message: Uint8Array, x: 0 | 8): Uint8Array | null {
  if (message.length < 24 + 32 || (message.length - 24) % 16 !== 0) return null;
  if (!bytesEqual(message.subarray(0, 8), authKeyIdBytes(authKey))) return null;
  const msgKey = message.subarray(8, 24);
  const { key, iv } = aesKeyIv(authKey, msgKey, x);
  const plaintext = aesIgeDecrypt(message.subarray(24), key, iv);
  if (!bytesEqual(messageKey(authKey, plaintext, x), msgKey)) return null;
  return plaintext;
}
