/**
 * The DC's RSA key: generation, persistence, the fingerprint as clients compute it, and the server
 * side of RSA_PAD (core.telegram.org/mtproto/auth_key, "Presenting proof of work; Server authentication").
 */
import { constants, createPrivateKey, createPublicKey, generateKeyPairSync, privateDecrypt, type KeyObject } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import Long from 'long';
import { readPrivateFileSync, writeFileAtomic } from '@telegram-service/durable-files';
import { aesIgeDecrypt } from './aes.js';
import { bytesEqual, bytesToBigInt, xorBytes } from './bigint-bytes.js';
import { sha1, sha256 } from './hash.js';

export interface DcRsaKey {
  /** PKCS#1 `-----BEGIN RSA PUBLIC KEY-----` (the form mtcute's addPublicKey accepts). */
  publicKeyPem: string;
  /** PKCS#1 `-----BEGIN RSA PRIVATE KEY-----`. */
  privateKeyPem: string;
  /** Lower 64 bits of SHA1(TL bytes n + TL bytes e), as it travels in resPQ / req_DH_params. */
  fingerprint: Long;
  /** Unpadded lower-case hex of the unsigned fingerprint, as mtcute formats it. */
  fingerprintHex: string;
  /**
   * Undoes RSA_PAD: returns data_with_padding (192 bytes: the inner TL object, e.g. p_q_inner_data_dc,
   * followed by the client's random padding — a TL reader stops at the object's end), or null when
   * any check fails (encrypted_data >= n, bad length, hash mismatch).
   */
  decryptRsaPad(encrypted: Uint8Array): Uint8Array | null;
}

export const RSA_KEY_FILE = 'rsa_key.pem';

function b64urlToBytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64url'));
}

/** TL `bytes` serialization (length prefix + data + zero padding to 4). */
function tlBytes(data: Uint8Array): Uint8Array {
  const header = data.length <= 253 ? [data.length] : [254, data.length & 0xff, (data.length >> 8) & 0xff, (data.length >> 16) & 0xff];
  const unpadded = header.length + data.length;
  const out = new Uint8Array(unpadded + ((4 - (unpadded % 4)) % 4));
  out.set(header, 0);
  out.set(data, header.length);
  return out;
}

/** Fingerprint of an RSA public key: last 8 bytes of SHA1(tl(n) + tl(e)), read little-endian. */
export function rsaFingerprint(n: Uint8Array, e: Uint8Array): Long {
  const hash = sha1(tlBytes(n), tlBytes(e));
  return Long.fromBytesLE(Array.from(hash.subarray(12, 20)), false);
}

function buildKey(privateKey: KeyObject): DcRsaKey {
  const publicKey = createPublicKey(privateKey);
  const jwk = privateKey.export({ format: 'jwk' });
  if (!jwk.n || !jwk.e || !jwk.d) throw new Error('not an RSA private key');
  const nBytes = b64urlToBytes(jwk.n);
  const eBytes = b64urlToBytes(jwk.e);
  const n = bytesToBigInt(nBytes);
  const fingerprint = rsaFingerprint(nBytes, eBytes);
  return {
    publicKeyPem: publicKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    fingerprint,
    fingerprintHex: fingerprint.toUnsigned().toString(16),
    decryptRsaPad: (encrypted) => rsaPadDecrypt(encrypted, n, privateKey),
  };
}

/**
 * Server side of RSA_PAD:
 *   key_aes_encrypted = encrypted_data ^ d mod n (256 bytes)
 *   temp_key = key_aes_encrypted[0:32] XOR SHA256(key_aes_encrypted[32:256])
 *   data_with_hash = AES256_IGE(temp_key, iv = 0).decrypt(key_aes_encrypted[32:256])
 *   data_with_padding = reverse(data_with_hash[0:192]);  check SHA256(temp_key + data_with_padding) = data_with_hash[192:224]
 */
function rsaPadDecrypt(encrypted: Uint8Array, n: bigint, privateKey: KeyObject): Uint8Array | null {
  if (encrypted.length !== 256) return null;
  if (bytesToBigInt(encrypted) >= n) return null;
  // Raw RSA (c^d mod n) in OpenSSL, ~15x faster than bigint modPow: the key exchange's hottest step.
  let keyAesEncrypted: Uint8Array;
  try {
    keyAesEncrypted = new Uint8Array(privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, encrypted));
  } catch {
    return null;
  }
  const tempKeyXor = keyAesEncrypted.subarray(0, 32);
  const aesEncrypted = keyAesEncrypted.subarray(32);
  const tempKey = xorBytes(tempKeyXor, sha256(aesEncrypted));
  const dataWithHash = aesIgeDecrypt(aesEncrypted, tempKey, new Uint8Array(32));
  const dataWithPadding = dataWithHash.slice(0, 192).reverse();
  const hash = dataWithHash.subarray(192, 224);
  if (!bytesEqual(hash, sha256(tempKey, dataWithPadding))) return null;
  return dataWithPadding;
}

/**
 * mtcute indexes keys by the zero-padded 16-digit hex fingerprint but looks them up by the unpadded
 * form, so a key whose padded hex starts with '0' is never found.
 */
function mtcuteCanFind(key: DcRsaKey): boolean {
  return key.fingerprintHex.length === 16;
}

/**
 * A fresh 2048-bit key with e = 65537. Keys whose fingerprint's hex form starts with '0' are
 * discarded: mtcute stores fingerprints zero-padded but looks them up unpadded, so it would never
 * find such a key.
 */
export function generateDcRsaKey(): DcRsaKey {
  for (;;) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
    const key = buildKey(privateKey);
    if (mtcuteCanFind(key)) return key;
  }
}

export function dcRsaKeyFromPem(privateKeyPem: string): DcRsaKey {
  return buildKey(createPrivateKey(privateKeyPem));
}

/**
 * The DC's key kept in `<dataDir>/rsa_key.pem` (created on first start; never read through a symlink);
 * without dataDir a fresh in-memory key. A stored key whose fingerprint mtcute cannot look up is replaced.
 */
export async function loadOrCreateDcRsaKey(dataDir?: string, warn: (msg: string) => void = () => undefined): Promise<DcRsaKey> {
  if (!dataDir) return generateDcRsaKey();
  const file = join(dataDir, RSA_KEY_FILE);
  const stored = readPrivateFileSync(file, { maxBytes: 64 * 1024 });
  stored?.warnings.forEach(warn);
  const existing = stored?.bytes.toString('utf8');
  if (existing !== undefined) {
    const key = dcRsaKeyFromPem(existing);
    if (mtcuteCanFind(key)) return key;
  }
  const key = generateDcRsaKey();
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, key.privateKeyPem);
  return key;
}
