/**
 * Diffie-Hellman of the key exchange (core.telegram.org/mtproto/auth_key), server side, with
 * Telegram's well-known 2048-bit safe prime and g = 3 (mtcute skips its primality tests for this prime).
 */
import { createDiffieHellman, randomBytes, type DiffieHellman } from 'node:crypto';
import { bigIntToBytes, bytesToBigInt, concatBytes, modPow } from './bigint-bytes.js';
import { sha1 } from './hash.js';

const DH_PRIME_HEX =
  'c71caeb9c6b1c9048e6c522f70f13f73980d40238e3e21c14934d037563d930f' +
  '48198a0aa7c14058229493d22530f4dbfa336f6e0ac925139543aed44cce7c37' +
  '20fd51f69458705ac68cd4fe6b6b13abdc9746512969328454f18faf8c595f64' +
  '2477fe96bb2a941d5bcd1d4ac8cc49880708fa9b378e3c4f3a9060bee67cf9a4' +
  'a4a695811051907e162753b56b0f6b410dba74d8a84b2a14b3144e0ef1284754' +
  'fd17ed950d5965b4b9dd46582db1178d169c6bc465b0d6ff9ca3928fef5b9ae4' +
  'e418fc15e83ebea0f87fa9ff5eed70050ded2849f47bf959d956850ce929851f' +
  '0d8115f635b105ee2e4e15d04b2454bf6f4fadf034b10403119cd8e3b92fcc5b';

/** Telegram's 2048-bit DH prime, 256 bytes big-endian. */
export const DH_PRIME: Uint8Array = new Uint8Array(Buffer.from(DH_PRIME_HEX, 'hex'));
export const DH_G = 3;

export const DH_PRIME_BIGINT: bigint = bytesToBigInt(DH_PRIME);
/** g_a, g_b must lie in (2^{2048-64}, p - 2^{2048-64}). */
const SAFETY_MARGIN = 1n << (2048n - 64n);

/**
 * node:crypto's DiffieHellman does the modular exponentiation in OpenSSL (~10x faster than bigint).
 * Creating it tests the prime once (~0.3 s), so one instance is created lazily and reused; every
 * use sets the private exponent first, all synchronously.
 */
let sharedDh: DiffieHellman | null | undefined;
function nativeDh(): DiffieHellman | null {
  if (sharedDh === undefined) {
    try {
      sharedDh = createDiffieHellman(Buffer.from(DH_PRIME), Buffer.from([DH_G]));
    } catch {
      sharedDh = null;
    }
  }
  return sharedDh;
}

/** base^exp mod p where base is g (public key) or a peer's value (shared secret). */
function dhPow(exp: bigint, peer: bigint | null): bigint {
  const dh = nativeDh();
  if (dh) {
    try {
      dh.setPrivateKey(Buffer.from(bigIntToBytes(exp, 256)));
      const out = peer === null ? (dh.generateKeys(), dh.getPublicKey()) : dh.computeSecret(Buffer.from(bigIntToBytes(peer, 256)));
      return bytesToBigInt(out);
    } catch {
      // fall through to the portable path
    }
  }
  return modPow(peer ?? BigInt(DH_G), exp, DH_PRIME_BIGINT);
}

/** Whether a DH public value is acceptable: 1 < x < p-1 and 2^{2048-64} < x < p - 2^{2048-64}. */
export function isSafeDhValue(x: bigint): boolean {
  const p = DH_PRIME_BIGINT;
  return x > 1n && x < p - 1n && x > SAFETY_MARGIN && x < p - SAFETY_MARGIN;
}

/** A fresh server exponent a and g_a = g^a mod p (256 bytes BE), regenerated until g_a is in range. */
export function newServerDh(): { a: bigint; gA: Uint8Array } {
  for (;;) {
    const a = (bytesToBigInt(randomBytes(256)) % (DH_PRIME_BIGINT - 3n)) + 2n;
    const gA = dhPow(a, null);
    if (isSafeDhValue(gA)) return { a, gA: bigIntToBytes(gA, 256) };
  }
}

/**
 * The auth key g^{ab} mod p from the client's g_b, or null when g_b fails the range checks.
 * Returned as minimal-length big-endian bytes: that is how mtcute keeps it (bigint → bytes without
 * padding), and auth_key_id, aux_hash and message keys are derived from those exact bytes.
 */
export function computeAuthKey(gB: Uint8Array, a: bigint): Uint8Array | null {
  if (gB.length === 0 || gB.length > 256) return null;
  const gBValue = bytesToBigInt(gB);
  if (!isSafeDhValue(gBValue)) return null;
  return bigIntToBytes(dhPow(a, gBValue));
}

/** auth_key_id: the low 8 bytes of SHA1(auth_key) (its last 8 bytes, wire order), as 16 hex chars. */
export function authKeyId(key: Uint8Array): string {
  return Buffer.from(sha1(key).subarray(12, 20)).toString('hex');
}

/** auth_key_aux_hash: the high 8 bytes of SHA1(auth_key). */
export function authKeyAuxHash(key: Uint8Array): Uint8Array {
  return sha1(key).subarray(0, 8);
}

/** new_nonce_hash{1,2,3}: the low 16 bytes of SHA1(new_nonce + byte n + auth_key_aux_hash). */
export function newNonceHash(newNonce: Uint8Array, key: Uint8Array, n: 1 | 2 | 3): Uint8Array {
  return sha1(concatBytes(newNonce, Uint8Array.of(n), authKeyAuxHash(key))).subarray(4, 20);
}
