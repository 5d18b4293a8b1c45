/**
 * The DC's RSA key: generation, persistence, the fingerprint as clients compute it, and the server
 * side of both ways clients encrypt p_q_inner_data (core.telegram.org/mtproto/auth_key, "Presenting
 * proof of work; Server authentication"): RSA_PAD, and the older SHA1(data) + data + random padding
 * to 255 bytes under raw RSA, which Telegram still accepts and Telethon and Pyrogram use.
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
  /**
   * Decrypts req_DH_params' encrypted_data sent either way (RSA_PAD or the older SHA1-padded raw RSA)
   * and returns the bytes the inner TL object starts at, or null. `objectLength(data)` measures the
   * TL object at the start of `data` (null if unreadable): the older form's hash covers exactly it.
   * Both readings are always computed and checked, and every failure is the same null, so neither
   * the answer nor the work done tells a client which check failed.
   */
  decryptInnerData(encrypted: Uint8Array, objectLength: (data: Uint8Array) => number | null): Uint8Array | null;
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
    decryptRsaPad(encrypted) {
      const raw = rawRsaDecrypt(encrypted, n, privateKey);
      if (!raw) return null;
      const padded = unwrapRsaPad(raw);
      return padded.ok ? padded.data : null;
    },
    decryptInnerData(encrypted, objectLength) {
      const raw = rawRsaDecrypt(encrypted, n, privateKey);
      if (!raw) return null;
      const padded = unwrapRsaPad(raw);
      const older = unwrapSha1Padded(raw, objectLength);
      if (padded.ok) return padded.data;
      return older.ok ? older.data : null;
    },
  };
}

/** encrypted_data ^ d mod n as 256 big-endian bytes, or null for a wrong length or a value ≥ n. */
function rawRsaDecrypt(encrypted: Uint8Array, n: bigint, privateKey: KeyObject): Uint8Array | null {
  if (encrypted.length !== 256) return null;
  if (bytesToBigInt(encrypted) >= n) return null;
  // Raw RSA (c^d mod n) in OpenSSL, ~15x faster than bigint modPow: the key exchange's hottest step.
  try {
    return new Uint8Array(privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, encrypted));
  } catch {
    return null;
  }
}

interface Unwrapped {
  ok: boolean;
  data: Uint8Array;
}

/**
 * RSA_PAD, from the raw decryption:
 *   temp_key = key_aes_encrypted[0:32] XOR SHA256(key_aes_encrypted[32:256])
 *   data_with_hash = AES256_IGE(temp_key, iv = 0).decrypt(key_aes_encrypted[32:256])
 *   data_with_padding = reverse(data_with_hash[0:192]);  check SHA256(temp_key + data_with_padding) = data_with_hash[192:224]
 */
function unwrapRsaPad(keyAesEncrypted: Uint8Array): Unwrapped {
  const tempKeyXor = keyAesEncrypted.subarray(0, 32);
  const aesEncrypted = keyAesEncrypted.subarray(32);
  const tempKey = xorBytes(tempKeyXor, sha256(aesEncrypted));
  const dataWithHash = aesIgeDecrypt(aesEncrypted, tempKey, new Uint8Array(32));
  const dataWithPadding = dataWithHash.slice(0, 192).reverse();
  const hash = dataWithHash.subarray(192, 224);
  return { ok: bytesEqual(hash, sha256(tempKey, dataWithPadding)), data: dataWithPadding };
}

/** Longest object the older form can carry: 255 bytes less the 20-byte hash. */
const SHA1_PADDED_MAX_DATA = 235;

/**
 * The older form, from the raw decryption: 0x00 | SHA1(data) | data | random padding (the client
 * encrypted 255 bytes, so the leading byte of 256 is zero). The hash is checked even when the object
 * cannot be measured, over an empty span, so the work does not depend on which check fails.
 */
function unwrapSha1Padded(raw: Uint8Array, objectLength: (data: Uint8Array) => number | null): Unwrapped {
  const data = raw.subarray(21);
  let length = 0;
  try {
    length = objectLength(data) ?? 0;
  } catch {
    length = 0;
  }
  const measured = length > 0 && length <= SHA1_PADDED_MAX_DATA;
  const hashOk = bytesEqual(raw.subarray(1, 21), sha1(data.subarray(0, measured ? length : 0)));
  return { ok: (raw[0] === 0) && measured && hashOk, data };
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
