import type { Socket } from 'node:net';
import { detectTransport } from '../transport/detect.js';
import { TransportViolation, transportErrorPayload, type FrameCodec } from '../transport/types.js';
import type { PeerConnection } from '../types.js';

export interface ConnectionLimits {
  idleTimeoutMs: number;
  maxFrameBytes: number;
  /** Unsent bytes queued for a peer that does not read; beyond this the connection is dropped. */
  maxWriteBufferBytes: number;
  /**
   * Received-but-incomplete frame bytes held across ALL connections of a server (shared object).
   * A connection whose partial frame would push the total past `max` is closed, so many
   * connections each sending most of a large frame cannot exhaust memory.
   */
  receiveBudget: { used: number; max: number };
}

export interface ConnectionEvents {
  /** One complete MTProto payload (auth_key_id first). May throw: the connection is closed. */
  onFrame(conn: Connection, frame: Uint8Array): void;
  onClose(conn: Connection, reason: string): void;
  log(level: 'debug' | 'info' | 'warn', msg: string, fields?: Record<string, unknown>): void;
}

let nextConnectionId = 1;

/**
 * One TCP connection: detects the framing from the first bytes, turns bytes into frames and frames into
 * bytes, enforces the per-connection limits. Knows nothing about MTProto beyond framing.
 */
export class Connection implements PeerConnection {
  readonly id = nextConnectionId++;
  readonly remote: string;
  private codec: FrameCodec | null = null;
  private head: Uint8Array = new Uint8Array(0);
  private closed = false;
  /** This connection's share of limits.receiveBudget. */
  private heldBytes = 0;
  /** Timer armed by ping_delay_disconnect. */
  private disconnectTimer: NodeJS.Timeout | undefined;
  /** A message on this connection decrypted under a known auth key (set by the encrypted layer). */
  proven = false;

  constructor(
    private readonly socket: Socket,
    private readonly limits: ConnectionLimits,
    private readonly events: ConnectionEvents,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs, () => this.close('idle timeout'));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.events.log('debug', 'socket error', { conn: this.id, err: err.message }));
    socket.on('close', () => this.finish('peer closed'));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  get transportName(): string {
    return this.codec?.kind ?? 'undetected';
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      let data: Uint8Array = chunk;
      if (!this.codec) {
        const head = concat(this.head, data);
        const found = detectTransport(head, this.limits.maxFrameBytes);
        if (!found) {
          this.head = head;
          return;
        }
        this.head = new Uint8Array(0);
        this.codec = found.transport.codec;
        data = head.subarray(found.consumed);
      }
      const frames = this.codec.decode(data);
      this.holdBytes(this.codec.buffered + this.head.length);
      for (const frame of frames) {
        if (this.closed) return;
        this.events.onFrame(this, frame);
      }
    } catch (err) {
      const level = err instanceof TransportViolation ? 'debug' : 'warn';
      this.events.log(level, 'closing connection on bad input', { conn: this.id, err: (err as Error).message });
      this.close('bad input');
    }
  }

  private holdBytes(n: number): void {
    const budget = this.limits.receiveBudget;
    budget.used += n - this.heldBytes;
    this.heldBytes = n;
    if (n > 0 && budget.used > budget.max) throw new TransportViolation('server-wide receive buffer budget exhausted');
  }

  /** Sends one MTProto payload. Drops the connection if the peer stopped reading. */
  send(payload: Uint8Array): void {
    if (this.closed || !this.codec) return;
    if (this.socket.writableLength > this.limits.maxWriteBufferBytes) {
      this.close('peer does not read');
      return;
    }
    this.socket.write(this.codec.encode(payload));
  }

  /** Transport error as Telegram sends it (e.g. 404 → payload int32 -404); the connection stays usable. */
  sendTransportError(code: number): void {
    this.send(transportErrorPayload(code));
  }

  /** Sends a transport error, then closes once it is flushed. */
  failWith(code: number, reason: string): void {
    this.sendTransportError(code);
    this.close(reason, true);
  }

  /** ping_delay_disconnect: close after `seconds` unless re-armed. */
  armDisconnect(seconds: number): void {
    clearTimeout(this.disconnectTimer);
    if (seconds <= 0) return;
    this.disconnectTimer = setTimeout(() => this.close('ping_delay_disconnect expired'), seconds * 1000);
    this.disconnectTimer.unref();
  }

  close(reason: string, afterFlush = false): void {
    if (this.closed) return;
    if (afterFlush) this.socket.end();
    else this.socket.destroy();
    this.finish(reason);
  }

  private finish(reason: string): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.limits.receiveBudget.used -= this.heldBytes;
    this.heldBytes = 0;
    clearTimeout(this.disconnectTimer);
    this.head = new Uint8Array(0);
    this.codec = null;
    // A socket half-closed by end() must not linger if the peer never reads.
    if (!this.socket.destroyed) {
      const timer = setTimeout(() => this.socket.destroy(), 5000);
      timer.unref();
      this.socket.once('close', () => clearTimeout(timer));
    }
    this.events.onClose(this, reason);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
