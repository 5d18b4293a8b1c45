/**
 * AES-256-IGE as MTProto uses it (core.telegram.org/mtproto/description), built on node:crypto's
 * AES-256-ECB one block at a time: IGE chains every block on the previous plaintext and ciphertext,
 * so blocks cannot be batched.
 *   encrypt: c_i = E(p_i ⊕ c_{i-1}) ⊕ p_{i-1},  with c_0 = iv[0:16], p_0 = iv[16:32]
 *   decrypt: p_i = D(c_i ⊕ p_{i-1}) ⊕ c_{i-1}
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { sha1 } from './hash.js';
import { concatBytes } from './bigint-bytes.js';

function checkArgs(data: Uint8Array, key: Uint8Array, iv: Uint8Array): void {
  if (key.length !== 32) throw new RangeError('AES-IGE key must be 32 bytes');
  if (iv.length !== 32) throw new RangeError('AES-IGE iv must be 32 bytes');
  if (data.length % 16 !== 0) throw new RangeError('AES-IGE data length must be a multiple of 16');
}

function ige(data: Uint8Array, key: Uint8Array, iv: Uint8Array, encrypt: boolean): Uint8Array {
  checkArgs(data, key, iv);
  const cipher = encrypt ? createCipheriv('aes-256-ecb', key, null) : createDecipheriv('aes-256-ecb', key, null);
  cipher.setAutoPadding(false);
  const out = new Uint8Array(data.length);
  // For encryption: xPrev = previous ciphertext block, yPrev = previous plaintext block (and vice versa).
  let chainIn = iv.subarray(encrypt ? 0 : 16, encrypt ? 16 : 32); // XORed into the block before AES
  let chainOut = iv.subarray(encrypt ? 16 : 0, encrypt ? 32 : 16); // XORed into AES' output
  const block = Buffer.alloc(16);
  for (let off = 0; off < data.length; off += 16) {
    const input = data.subarray(off, off + 16);
    for (let i = 0; i < 16; i++) block[i] = input[i]! ^ chainIn[i]!;
    const processed = cipher.update(block);
    const result = out.subarray(off, off + 16);
    for (let i = 0; i < 16; i++) result[i] = processed[i]! ^ chainOut[i]!;
    chainIn = result;
    chainOut = input;
  }
  return out;
}

export function aesIgeEncrypt(data: Uint8Array, key: Uint8Array, iv: Uint8Array): Uint8Array {
  return ige(data, key, iv, true);
}

export function aesIgeDecrypt(data: Uint8Array, key: Uint8Array, iv: Uint8Array): Uint8Array {
  return ige(data, key, iv, false);
}

/**
 * tmp_aes_key / tmp_aes_iv of the key exchange (core.telegram.org/mtproto/auth_key):
 *   key = SHA1(new_nonce + server_nonce) + SHA1(server_nonce + new_nonce)[0:12]
 *   iv  = SHA1(server_nonce + new_nonce)[12:20] + SHA1(new_nonce + new_nonce) + new_nonce[0:4]
 */
export function tmpAesKeyIv(newNonce: Uint8Array, serverNonce: Uint8Array): { key: Uint8Array; iv: Uint8Array } {
  const a = sha1(newNonce, serverNonce);
  const b = sha1(serverNonce, newNonce);
  const c = sha1(newNonce, newNonce);
  return {
    key: concatBytes(a, b.subarray(0, 12)),
    iv: concatBytes(b.subarray(12, 20), c, newNonce.subarray(0, 4)),
  };
}
