import type Long from 'long';
import type { SessionInfo, PeerConnection } from '../types.js';
import { MtSession } from './session.js';

/** A session id as 16 hex digits in wire (little-endian) order. */
function longToHex(v: Long): string {
  const b = Buffer.alloc(8);
  b.writeInt32LE(v.low, 0);
  b.writeInt32LE(v.high, 4);
  return b.toString('hex');
}

const EMPTY: ReadonlySet<MtSession> = new Set();
const IDLE_SESSION_TTL_MS = 60 * 60 * 1000;
const MAX_SESSIONS = 200_000;

/** Every live session of one DC, by (auth key, session id), and which connections carry them. */
export class SessionRegistry {
  private readonly sessions = new Map<string, MtSession>();
  private readonly byKey = new Map<string, Set<MtSession>>();
  private readonly byConnection = new Map<PeerConnection, Set<MtSession>>();

  get size(): number {
    return this.sessions.size;
  }

  get(authKeyId: string, sessionId: Long): MtSession | undefined {
    return this.sessions.get(`${authKeyId}:${longToHex(sessionId)}`);
  }

  getOrCreate(authKeyId: string, authKey: Uint8Array, sessionId: Long): MtSession {
    const hex = longToHex(sessionId);
    const k = `${authKeyId}:${hex}`;
    let s = this.sessions.get(k);
    if (!s) {
      if (this.sessions.size >= MAX_SESSIONS) this.evictIdle(0);
      s = new MtSession(authKeyId, authKey, sessionId, hex);
      this.sessions.set(k, s);
      let set = this.byKey.get(authKeyId);
      if (!set) this.byKey.set(authKeyId, (set = new Set()));
      set.add(s);
    }
    return s;
  }

  /** Every session of one auth key. */
  ofKey(authKeyId: string): ReadonlySet<MtSession> {
    return this.byKey.get(authKeyId) ?? EMPTY;
  }

  bind(session: MtSession, conn: PeerConnection): void {
    session.attach(conn);
    let set = this.byConnection.get(conn);
    if (!set) this.byConnection.set(conn, (set = new Set()));
    set.add(session);
  }

  /** A connection closed: its sessions stay, waiting for the client to reconnect. */
  connectionClosed(conn: PeerConnection): void {
    const set = this.byConnection.get(conn);
    if (!set) return;
    this.byConnection.delete(conn);
    for (const s of set) s.detach(conn);
  }

  remove(session: MtSession): void {
    this.sessions.delete(`${session.authKeyId}:${session.sessionIdHex}`);
    this.byKey.get(session.authKeyId)?.delete(session);
    if (this.byKey.get(session.authKeyId)?.size === 0) this.byKey.delete(session.authKeyId);
    for (const conn of session.connections) this.byConnection.get(conn)?.delete(session);
    session.connections.clear();
    session.current = null;
  }

  removeKey(authKeyId: string): void {
    for (const s of [...(this.byKey.get(authKeyId) ?? [])]) this.remove(s);
  }

  list(dcId: number): SessionInfo[] {
    return [...this.sessions.values()].map((s) => ({
      dcId,
      authKeyId: s.authKeyId,
      sessionId: s.sessionIdHex,
      connections: [...s.connections].filter((c) => c.isOpen).length,
      lastSeenAt: s.lastSeenAt,
    }));
  }

  /** Drops sessions with no connection that were idle longer than `ttlMs`. */
  evictIdle(ttlMs = IDLE_SESSION_TTL_MS, now = Date.now()): void {
    for (const s of [...this.sessions.values()]) {
      if (s.connections.size === 0 && now - s.lastSeenAt >= ttlMs && s.inflight.size === 0) this.remove(s);
    }
  }
}
