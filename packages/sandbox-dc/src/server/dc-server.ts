/**
 * One sandbox data center on one TCP port: accepts connections, routes plain frames to the key
 * exchange and encrypted frames to the encrypted layer, enforces connection limits, and offers the
 * fault switches the controls need (DC down/up, dropped connections, delayed answers).
 *
 * Connection limit: every connection is a file descriptor, so the limit must hold whatever anyone on
 * the machine opens. At the limit a newcomer takes the place of the oldest connection that has not
 * proven an auth key (no message that decrypted under one): a flood of idle or key-less connections
 * is shed first, clients with a working session keep theirs. Only when every connection has proven a
 * key is the newcomer told -429.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { DcRsaKey } from '../crypto/rsa.js';
import { KeyExchange } from '../handshake/key-exchange.js';
import { isPlainMessage, readPlainMessage, writePlainMessage } from '../handshake/plain-messages.js';
import { EncryptedLayer } from '../mtproto/encrypted-layer.js';
import { ServerMsgIdGenerator } from '../mtproto/msg-id.js';
import { SaltBook } from '../mtproto/salts.js';
import type { AuthKeyStore, PushOptions, RpcHandler, SessionInfo, TlObject } from '../types.js';
import { Connection, type ConnectionLimits } from './connection.js';

export interface DcServerOptions {
  dcId: number;
  host: string;
  /** 0 = any free port (chosen on the first start and kept across stopListening/startListening). */
  port: number;
  rsaKey: DcRsaKey;
  authKeys: AuthKeyStore;
  rpc: RpcHandler;
  /** true: key exchanges must name the DC as id + 10000 (Telegram test DCs); false: as id; unset: either. */
  testMode?: boolean;
  limits?: {
    maxConnections?: number;
    idleTimeoutMs?: number;
    maxFrameBytes?: number;
    /** Partial-frame bytes held across all connections (default 256 MiB). */
    maxReceiveBufferBytes?: number;
    /** How long a session without a connection still gets pushed updates (default 2 minutes). */
    pushGraceMs?: number;
  };
  log?: (level: 'debug' | 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

const DEFAULT_LIMITS = {
  maxConnections: 1_000,
  idleTimeoutMs: 5 * 60 * 1000,
  maxFrameBytes: 1024 * 1024 + 64 * 1024,
};
const MAX_WRITE_BUFFER_BYTES = 16 * 1024 * 1024;
/** Partial frames held across all connections of one DC. */
const MAX_TOTAL_RECEIVE_BUFFER_BYTES = 256 * 1024 * 1024;
const SESSION_SWEEP_MS = 60 * 1000;
/** Connections held over the limit only to be told -429 (beyond that the listener drops them unanswered). */
export const OVERLOAD_ALLOWANCE = 16;
const OVERLOADED_IDLE_MS = 2000;

export class DcServer {
  readonly dcId: number;
  private readonly host: string;
  private boundPort: number;
  private server: Server | null = null;
  private readonly connections = new Set<Connection>();
  /** Connections accepted over the limit, only to be told -429. */
  private readonly overloaded = new Set<Connection>();
  private readonly keyExchanges = new WeakMap<Connection, KeyExchange>();
  private readonly salts = new SaltBook();
  private readonly layer: EncryptedLayer;
  private readonly plainMsgIds = new ServerMsgIdGenerator();
  private readonly limits: ConnectionLimits & { maxConnections: number };
  private readonly log: NonNullable<DcServerOptions['log']>;
  private answerDelayMs = 0;
  /** Connections closed to make room at the limit, since start. */
  private shed = 0;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: DcServerOptions) {
    this.dcId = opts.dcId;
    this.host = opts.host;
    this.boundPort = opts.port;
    this.log = opts.log ?? (() => undefined);
    this.limits = {
      maxConnections: opts.limits?.maxConnections ?? DEFAULT_LIMITS.maxConnections,
      idleTimeoutMs: opts.limits?.idleTimeoutMs ?? DEFAULT_LIMITS.idleTimeoutMs,
      maxFrameBytes: opts.limits?.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes,
      maxWriteBufferBytes: MAX_WRITE_BUFFER_BYTES,
      receiveBudget: { used: 0, max: opts.limits?.maxReceiveBufferBytes ?? MAX_TOTAL_RECEIVE_BUFFER_BYTES },
    };
    this.layer = new EncryptedLayer({
      dcId: opts.dcId,
      authKeys: opts.authKeys,
      rpc: opts.rpc,
      salts: this.salts,
      log: this.log,
      answerDelayMs: () => this.answerDelayMs,
      pushGraceMs: opts.limits?.pushGraceMs,
    });
  }

  /** The listening port (the one chosen by the OS when constructed with 0, after start()). */
  get port(): number {
    return this.boundPort;
  }

  /** Open TCP connections right now. */
  get openConnections(): number {
    return this.connections.size;
  }

  async start(): Promise<void> {
    await this.startListening();
    this.sweepTimer = setInterval(() => this.layer.sessions.evictIdle(), SESSION_SWEEP_MS);
    this.sweepTimer.unref();
  }

  /** Opens the listener (again) on the same port. */
  async startListening(): Promise<void> {
    if (this.server) return;
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    // Room for a few connections over the limit, which are answered -429; beyond that, refused.
    server.maxConnections = this.limits.maxConnections + OVERLOAD_ALLOWANCE;
    server.on('error', (err) => this.log('warn', 'listener error', { dc: this.dcId, err: err.message }));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(this.boundPort, this.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const addr = server.address();
    if (addr && typeof addr === 'object') this.boundPort = addr.port;
    this.server = server;
    this.log('info', 'listening', { dc: this.dcId, host: this.host, port: this.boundPort });
  }

  /** DC down: closes the listener and every connection; the port is kept for startListening(). */
  async stopListening(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.dropConnections();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Drops every open connection (sessions and keys stay, as when a network path breaks). */
  dropConnections(): void {
    for (const conn of [...this.connections, ...this.overloaded]) conn.close('dropped by control');
  }

  /** Holds every rpc_result for `ms` milliseconds (0 = none). */
  setAnswerDelay(ms: number): void {
    this.answerDelayMs = Math.max(0, ms);
  }

  sessions(): SessionInfo[] {
    return this.layer.sessions.list(this.dcId);
  }

  /** Pushes a server-initiated update to the live sessions of these keys on this DC (LiveSessions.push). */
  pushToKeys(authKeyIds: readonly string[], update: TlObject, opts?: PushOptions): number {
    return this.layer.pushToKeys(authKeyIds, update, opts);
  }

  /** Session ids of this key with an open connection on this DC. */
  liveSessionIds(authKeyId: string): string[] {
    return this.layer.liveSessionIds(authKeyId);
  }

  /** Pushes a native-layer object to every live session of one key on this DC, in the key's layer. */
  pushToAuthKey(authKeyId: string, obj: TlObject): number {
    return this.layer.pushToKeys([authKeyId], obj, { evenWithoutUpdates: true });
  }

  /** Drops the key's sessions and salts here; its next packet gets -404. Removing it from the store is the caller's job. */
  forgetAuthKey(id: string): void {
    this.layer.forgetKey(id);
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.stopListening();
  }

  private accept(socket: Socket): void {
    if (!this.server) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.limits.maxConnections && !this.evictUnproven()) {
      this.refuseOverloaded(socket);
      return;
    }
    const conn = new Connection(socket, this.limits, {
      onFrame: (c, frame) => this.onFrame(c, frame),
      onClose: (c) => {
        this.connections.delete(c);
        this.layer.connectionClosed(c);
      },
      log: this.log,
    });
    this.connections.add(conn);
  }

  /** Closes the oldest connection that has not proven an auth key; false when every one has. */
  private evictUnproven(): boolean {
    for (const conn of this.connections) {
      if (conn.proven) continue;
      this.shed++;
      if (this.shed === 1 || this.shed % 1000 === 0) {
        this.log('warn', 'connection limit reached: closing connections that have not proven an auth key', { dc: this.dcId, limit: this.limits.maxConnections, shed: this.shed });
      }
      conn.close('shed at the connection limit');
      return true;
    }
    return false;
  }

  /**
   * Over the connection limit: like Telegram, answer the first frame with transport error -429
   * (the framing must be known to send it) and close. Such connections get a short idle timeout,
   * and beyond a small overflow allowance the listener refuses sockets outright.
   */
  private refuseOverloaded(socket: Socket): void {
    this.log('debug', 'connection limit reached', { dc: this.dcId, open: this.connections.size });
    const limits = { ...this.limits, idleTimeoutMs: Math.min(this.limits.idleTimeoutMs, OVERLOADED_IDLE_MS) };
    const conn = new Connection(socket, limits, {
      onFrame: (c) => c.failWith(429, 'connection limit reached'),
      onClose: (c) => this.overloaded.delete(c),
      log: this.log,
    });
    this.overloaded.add(conn);
  }

  private onFrame(conn: Connection, frame: Uint8Array): void {
    if (frame.length < 8) {
      conn.close('frame shorter than an auth_key_id');
      return;
    }
    if (isPlainMessage(frame)) this.onPlainFrame(conn, frame);
    else this.layer.handleFrame(conn, frame);
  }

  private onPlainFrame(conn: Connection, frame: Uint8Array): void {
    const msg = readPlainMessage(frame);
    if (!msg) {
      conn.failWith(404, 'malformed plain message');
      return;
    }
    let kx = this.keyExchanges.get(conn);
    if (!kx) {
      kx = new KeyExchange({
        dcId: this.dcId,
        testMode: this.opts.testMode,
        rsaKey: this.opts.rsaKey,
        authKeys: this.opts.authKeys,
        onKeyCreated: (keyId, firstSalt) => {
          this.layer.keyCreated(keyId);
          this.salts.rememberFirstSalt(keyId, firstSalt);
          this.log('info', 'auth key created', { dc: this.dcId, keyId });
        },
      });
      this.keyExchanges.set(conn, kx);
    }
    const result = kx.handle(msg.body);
    if ('failure' in result) {
      this.log('debug', 'key exchange failed', { conn: conn.id, why: result.failure });
      conn.failWith(404, result.failure);
      return;
    }
    conn.send(writePlainMessage(this.plainMsgIds.next(true), result.reply));
  }
}
