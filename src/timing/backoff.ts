/**
 * The one backoff rule of the service: the n-th failure in a row waits base · 2^(n−1), capped. Used as it
 * is where a wait must be predictable (guess lockouts, the store's write retries, the journal's retries,
 * a QR code's refetch, a forwarded request waiting for an owner), and as the ceiling of a randomized wait
 * where many retriers must not move in step (validation retries, webhook deliveries).
 */

/** base · 2^(failures−1), at most `capMs` (failures ≤ 1: base). */
export function exponentialDelayMs(failures: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}

/** Full jitter: uniform in [0, exponentialDelayMs). */
export function fullJitterDelayMs(failures: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * exponentialDelayMs(failures, baseMs, capMs));
}

/** exponentialDelayMs spread by ±25 % (never below 1 ms). */
export function spreadDelayMs(failures: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  return Math.max(1, Math.round(exponentialDelayMs(failures, baseMs, capMs) * (0.75 + random() * 0.5)));
}
