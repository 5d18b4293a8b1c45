import Long from 'long';

/**
 * Server message ids: unixtime in the upper 32 bits, ≡ 1 (mod 4) for answers to client messages,
 * ≡ 3 otherwise, strictly increasing across the whole DC.
 */
export class ServerMsgIdGenerator {
  private last = Long.ZERO;

  next(isResponse: boolean): Long {
    const now = Date.now();
    // Milliseconds spread over the low 32 bits, so ids also order by time within a second.
    const low = Math.floor((now % 1000) * 4294967.296) & ~3;
    let id = Long.fromBits(low, Math.floor(now / 1000), false);
    if (id.lte(this.last)) id = this.last.add(1);
    // Round up to the wanted residue mod 4.
    const want = isResponse ? 1 : 3;
    while ((id.low & 3) !== want) id = id.add(1);
    this.last = id;
    return id;
  }
}

export type ClientMsgIdProblem = 16 | 17 | 18;

/**
 * Checks a client msg_id against the server clock (core.telegram.org/mtproto/service_messages_about_messages):
 * 16 too low (more than 300 s in the past), 17 too high (more than 30 s ahead), 18 wrong low bits (must be ≡ 0 mod 4).
 */
export function checkClientMsgId(msgId: Long, nowMs = Date.now()): ClientMsgIdProblem | null {
  if ((msgId.low & 3) !== 0) return 18;
  const seconds = msgId.high >>> 0;
  const now = Math.floor(nowMs / 1000);
  if (seconds < now - 300) return 16;
  if (seconds > now + 30) return 17;
  return null;
}
