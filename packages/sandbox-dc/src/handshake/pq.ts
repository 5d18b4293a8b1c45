/**
 * The pq of resPQ (core.telegram.org/mtproto/auth_key): the product of two distinct random 31-bit
 * primes, a 62-bit proof of work the client must factorize, as Telegram's DCs send.
 *
 * node:crypto's generatePrimeSync costs ~0.5 ms per prime, a visible share of a key exchange; a
 * 31-bit prime is found in microseconds with a deterministic Miller-Rabin test in plain number
 * arithmetic (bases 2, 7, 61 decide every n < 4,759,123,141).
 */
import { randomInt } from 'node:crypto';

const LOW = 2 ** 30;
const HIGH = 2 ** 31;

/** a·b mod n for a, b < n < 2^31 without leaving the 53 exact bits of a double. */
function mulMod(a: number, b: number, n: number): number {
  const high = ((a * Math.floor(b / 65536)) % n) * 65536;
  return (high + a * (b % 65536)) % n;
}

function powMod(base: number, exp: number, n: number): number {
  let result = 1;
  let b = base % n;
  let e = exp;
  while (e > 0) {
    if (e % 2 === 1) result = mulMod(result, b, n);
    b = mulMod(b, b, n);
    e = Math.floor(e / 2);
  }
  return result;
}

/** Deterministic primality for odd n with 61 < n < 2^31. */
export function isPrime31(n: number): boolean {
  let d = n - 1;
  let s = 0;
  while (d % 2 === 0) {
    d /= 2;
    s++;
  }
  witness: for (const a of [2, 7, 61]) {
    let x = powMod(a, d, n);
    if (x === 1 || x === n - 1) continue;
    for (let i = 1; i < s; i++) {
      x = mulMod(x, x, n);
      if (x === n - 1) continue witness;
    }
    return false;
  }
  return true;
}

/** A random prime in [2^30, 2^31). */
export function randomPrime31(): number {
  for (;;) {
    const candidate = randomInt(LOW, HIGH) | 1;
    if (isPrime31(candidate)) return candidate;
  }
}

/** Two distinct random 31-bit primes, p < q. */
export function newPq(): { p: bigint; q: bigint } {
  for (;;) {
    const x = randomPrime31();
    const y = randomPrime31();
    if (x !== y) return x < y ? { p: BigInt(x), q: BigInt(y) } : { p: BigInt(y), q: BigInt(x) };
  }
}
