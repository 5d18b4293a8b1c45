/**
 * 2FA password check, server side (core.telegram.org/api/srp), for
 * passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow with Telegram's 2048-bit
 * prime and g = 3.
 *   SH(data, salt) = SHA256(salt + data + salt);  PH1 = SH(SH(password, salt1), salt2)
 *   PH2 = SH(PBKDF2-HMAC-SHA512(PH1, salt1, 100000), salt2);  x = PH2;  v = g^x mod p
 *   k = H(p + g);  B = (k·v + g^b) mod p;  u = H(A + B);  S = (A · v^u)^b mod p;  K = H(S)
 *   M1 = H(H(p) xor H(g) + H(salt1) + H(salt2) + A + B + K)
 * g, A, B and S are padded to 256 bytes wherever they are hashed.
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import Long from 'long';
import { bigIntToBytes, bytesEqual, bytesToBigInt, concatBytes, modPow, xorBytes } from './bigint-bytes.js';
import { DH_G, DH_PRIME, DH_PRIME_BIGINT, isSafeDhValue } from './dh.js';
import { sha256 } from './hash.js';

export interface SrpPassword {
  salt1: Uint8Array;
  salt2: Uint8Array;
  g: number;
  p: Uint8Array;
  /** Verifier g^x mod p, 256 bytes. */
  v: Uint8Array;
}

export interface SrpSession {
  srpId: Long;
  b: bigint;
  B: Uint8Array;
}

/** Length of the server part of salt1 in new_algo; a client setting a password appends 32 random bytes. */
export const SRP_SERVER_SALT1_LENGTH = 8;
const SRP_CLIENT_SALT1_LENGTH = 32;

function saltedHash(data: Uint8Array, salt: Uint8Array): Uint8Array {
  return sha256(salt, data, salt);
}

/** PH2 of the doc: the password hash x, as the client computes it. */
export function srpPasswordHash(password: string, salt1: Uint8Array, salt2: Uint8Array): Uint8Array {
  const ph1 = saltedHash(saltedHash(new TextEncoder().encode(password), salt1), salt2);
  return saltedHash(new Uint8Array(pbkdf2Sync(ph1, salt1, 100_000, 64, 'sha512')), salt2);
}

/**
 * The random salts for `new_algo` in account.password: salt1 is the server's part only (the client
 * appends its own 32 bytes before hashing a new password), salt2 is complete.
 */
export function newSrpAlgoSalts(): { salt1: Uint8Array; salt2: Uint8Array } {
  return { salt1: new Uint8Array(randomBytes(SRP_SERVER_SALT1_LENGTH)), salt2: new Uint8Array(randomBytes(16)) };
}

/** A stored password as Telegram would hold it after a client set it (salt1 = server 8 + client 32 bytes). */
export function createSrpPassword(password: string): SrpPassword {
  const salt1 = new Uint8Array(randomBytes(SRP_SERVER_SALT1_LENGTH + SRP_CLIENT_SALT1_LENGTH));
  const salt2 = new Uint8Array(randomBytes(16));
  return srpPasswordFromSalts(password, salt1, salt2);
}

/** A stored password for given salts (e.g. when a client sets a new password with its own salt1). */
export function srpPasswordFromSalts(password: string, salt1: Uint8Array, salt2: Uint8Array): SrpPassword {
  const x = bytesToBigInt(srpPasswordHash(password, salt1, salt2));
  const v = modPow(BigInt(DH_G), x, DH_PRIME_BIGINT);
  return { salt1, salt2, g: DH_G, p: DH_PRIME, v: bigIntToBytes(v, 256) };
}

function kMultiplier(pw: SrpPassword): bigint {
  return bytesToBigInt(sha256(pw.p, bigIntToBytes(BigInt(pw.g), 256)));
}

/** Starts a check: a random b, B = k·v + g^b mod p, and the srp_id the client must quote. */
export function startSrp(pw: SrpPassword): SrpSession {
  const p = bytesToBigInt(pw.p);
  const g = BigInt(pw.g);
  const kv = (kMultiplier(pw) * bytesToBigInt(pw.v)) % p;
  for (;;) {
    const b = bytesToBigInt(randomBytes(256)) % p;
    const B = (kv + modPow(g, b, p)) % p;
    if (b > 1n && isSafeDhValue(B)) {
      return { srpId: Long.fromBytesLE(Array.from(randomBytes(8))), b, B: bigIntToBytes(B, 256) };
    }
  }
}

/** Verifies the client's A and M1 against a session started with startSrp. */
export function checkSrp(pw: SrpPassword, session: { b: bigint; B: Uint8Array }, A: Uint8Array, M1: Uint8Array): boolean {
  if (A.length === 0 || A.length > 256 || M1.length !== 32 || session.B.length !== 256) return false;
  const p = bytesToBigInt(pw.p);
  const aValue = bytesToBigInt(A);
  if (aValue % p === 0n || !isSafeDhValue(aValue)) return false;
  const aPadded = bigIntToBytes(aValue, 256);
  const u = bytesToBigInt(sha256(aPadded, session.B));
  if (u === 0n) return false;
  const v = bytesToBigInt(pw.v);
  const S = modPow((aValue * modPow(v, u, p)) % p, session.b, p);
  const K = sha256(bigIntToBytes(S, 256));
  const gPadded = bigIntToBytes(BigInt(pw.g), 256);
  const expected = sha256(
    concatBytes(
      xorBytes(sha256(pw.p), sha256(gPadded)),
      sha256(pw.salt1),
      sha256(pw.salt2),
      aPadded,
      session.B,
      K,
    ),
  );
  return bytesEqual(expected, M1);
}
