/**
 * Free TCP ports on the loopback, for tests and the bench.
 *
 * A port is checked free here and bound later by another process (a service under test, a DC, a
 * PostgreSQL). In between, nothing of ours holds it. Ports from the kernel's ephemeral range can be
 * taken in that gap by any outgoing connection's source port or any listen(0) — a CI run once lost
 * the port next to the sandbox DC's this way. So ports are taken below that range, where the kernel
 * hands out none by itself, and each test worker walks its own slice of it, so two workers never pick
 * the same port either.
 */
import fs from 'node:fs';
import net from 'node:net';

/** How many disjoint slices the range is cut into: vitest's workers are numbered from 1, anything else is 0. */
const SLICES = 8;
const RANGE_START = 10_000;

/** The first port of the kernel's ephemeral range (Linux: 32768 unless configured otherwise). */
function ephemeralStart(): number {
  try {
    const first = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > RANGE_START + SLICES * 100) return first;
  } catch {
    // not Linux, or no /proc: the usual default
  }
  return 32_768;
}

interface Slice {
  first: number;
  size: number;
  next: number;
}

let slice: Slice | undefined;

/** This process's slice, walked from a random point so reruns do not retry the same ports first. */
function ownSlice(): Slice {
  if (!slice) {
    const size = Math.floor((ephemeralStart() - RANGE_START) / SLICES);
    const index = Number(process.env.VITEST_POOL_ID ?? 0) % SLICES;
    slice = { first: RANGE_START + index * size, size, next: Math.floor(Math.random() * size) };
  }
  return slice;
}

export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive ports, all free on 127.0.0.1 right now; returns the first. Ports handed out by
 * this process are not handed out again until its slice wraps around.
 */
export async function freePorts(count: number): Promise<number> {
  const own = ownSlice();
  for (let tried = 0; tried < own.size; tried += count) {
    if (own.next + count > own.size) own.next = 0;
    const first = own.first + own.next;
    own.next += count;
    let free = true;
    for (let i = 0; i < count && free; i++) free = await portIsFree(first + i);
    if (free) return first;
  }
  throw new Error(`no ${count} consecutive free ports on 127.0.0.1 in ${own.first}-${own.first + own.size - 1}`);
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return freePorts(1);
}
