import { randomBytes } from 'node:crypto';
import Long from 'long';
import { MsgIdWindow } from './msg-id-window.js';
import type { PeerConnection } from '../types.js';

/** A message waiting to be sent to the client; its msg_id and seq_no are assigned when it leaves. */
export interface OutgoingMessage {
  body: Uint8Array;
  /** Needs an acknowledgement (odd seq_no): rpc_result, new_session_created, future_salts… */
  contentRelated: boolean;
  /** Answers a client message (msg_id ≡ 1 mod 4) rather than being spontaneous (≡ 3). */
  response: boolean;
}

const MAX_OUTBOX = 256;
const MAX_REMEMBERED_ANSWERS = 512;
const MAX_CACHED_ANSWERS = 32;
const MAX_CACHED_ANSWER_BYTES = 64 * 1024;
const MAX_CACHED_ANSWERS_BYTES = 512 * 1024;

/** One MTProto session: (auth key, session_id). Outlives TCP connections; mtcute keeps its session_id across reconnects. */
export class MtSession {
  readonly uniqueId = new Long(randomBytes(4).readInt32LE(0), randomBytes(4).readInt32LE(0));
  readonly seen = new MsgIdWindow();
  /** Client RPC msg_ids (as strings) being processed. */
  readonly inflight = new Set<string>();
  /** Client RPC msg_ids already answered, oldest first. */
  readonly answered = new Set<string>();
  /** new_session_created has been sent. */
  announced = false;
  /** Made a request not wrapped in invokeWithoutUpdates: server-initiated updates are pushed to it. */
  receivesUpdates = false;
  /** Updates were pushed while it was away too long to keep them: it gets updatesTooLong when it is back. */
  missedUpdates = false;
  lastSeenAt = Date.now();
  /** Where answers go: the connection this session last spoke on. */
  current: PeerConnection | null = null;
  readonly connections = new Set<PeerConnection>();
  /** Messages produced while no connection was open; sent when the client comes back. */
  readonly outbox: OutgoingMessage[] = [];
  flushScheduled = false;
  private contentCount = 0;
  private readonly cachedAnswers = new Map<string, Uint8Array>();
  private cachedBytes = 0;

  constructor(
    readonly authKeyId: string,
    readonly authKey: Uint8Array,
    readonly sessionId: Long,
    readonly sessionIdHex: string,
  ) {}

  nextSeqNo(contentRelated: boolean): number {
    if (!contentRelated) return this.contentCount * 2;
    return this.contentCount++ * 2 + 1;
  }

  attach(conn: PeerConnection): void {
    this.connections.add(conn);
    this.current = conn;
    this.lastSeenAt = Date.now();
  }

  detach(conn: PeerConnection): void {
    this.connections.delete(conn);
    if (this.current === conn) this.current = [...this.connections].find((c) => c.isOpen) ?? null;
  }

  /** Holds an open connection, or had traffic within `graceMs` (its client is reconnecting). */
  isLive(now: number, graceMs: number): boolean {
    return this.hasOpenConnection() || now - this.lastSeenAt < graceMs;
  }

  hasOpenConnection(): boolean {
    for (const c of this.connections) if (c.isOpen) return true;
    return false;
  }

  enqueue(msg: OutgoingMessage): void {
    this.outbox.push(msg);
    // A client that never comes back must not grow this without bound: drop the oldest.
    if (this.outbox.length > MAX_OUTBOX) this.outbox.shift();
  }

  /**
   * Records that `msgId` was answered with `rpcResult` (the whole rpc_result message body). Recent
   * small answers are kept so a client re-sending the same msg_id gets the answer again.
   */
  markAnswered(msgId: Long, rpcResult: Uint8Array): void {
    const k = msgId.toString();
    this.inflight.delete(k);
    this.answered.add(k);
    if (this.answered.size > MAX_REMEMBERED_ANSWERS) {
      const oldest = this.answered.values().next().value;
      if (oldest !== undefined) this.answered.delete(oldest);
    }
    if (rpcResult.length <= MAX_CACHED_ANSWER_BYTES) {
      this.cachedAnswers.set(k, rpcResult);
      this.cachedBytes += rpcResult.length;
      for (const [key, body] of this.cachedAnswers) {
        if (this.cachedAnswers.size <= MAX_CACHED_ANSWERS && this.cachedBytes <= MAX_CACHED_ANSWERS_BYTES) break;
        this.cachedAnswers.delete(key);
        this.cachedBytes -= body.length;
      }
    }
  }

  /** The rpc_result sent for `msgId`, if still cached. */
  cachedAnswer(msgId: Long): Uint8Array | undefined {
    return this.cachedAnswers.get(msgId.toString());
  }
}
