/** The resPQ proof of work: 31-bit primes from the fast deterministic test agree with OpenSSL's. */
import { checkPrimeSync, randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isPrime31, newPq, randomPrime31 } from '../src/handshake/pq.js';

describe('pq for resPQ', () => {
  it('isPrime31 agrees with OpenSSL on random odd 31-bit numbers and known hard cases', () => {
    const hard = [
      2147483647, // 2^31 - 1, prime
      2147483629, // largest prime below it
      1073741827, // smallest prime ≥ 2^30
      1073741825, // 2^30 + 1, composite
      1082401, // 601 · 1801
      25326001, // 2251 · 11251, strong pseudoprime to bases 2, 3, 5
      1373653, // 829 · 1657, strong pseudoprime to bases 2, 3
    ];
    const odd = Array.from({ length: 20_000 }, () => randomInt(2 ** 30, 2 ** 31) | 1);
    for (const n of [...hard, ...odd]) expect(isPrime31(n), String(n)).toBe(checkPrimeSync(BigInt(n)));
  });

  it('newPq gives two distinct 31-bit primes, smaller first', () => {
    for (let i = 0; i < 200; i++) {
      const { p, q } = newPq();
      expect(p < q).toBe(true);
      for (const x of [p, q]) {
        expect(x >= 2n ** 30n && x < 2n ** 31n).toBe(true);
        expect(checkPrimeSync(x)).toBe(true);
      }
    }
    expect(checkPrimeSync(BigInt(randomPrime31()))).toBe(true);
  });
});
