/**
 * Contracts shared by the sandbox DC's layers.
 *
 *   server/ (TCP, limits) → transport/ (framing) → handshake/ (plain messages, key exchange)
 *                                                → mtproto/ (encrypted layer, service messages)
 *                                                      → rpc/ (API methods) → state/ (accounts, keys, messages)
 *
 * The protocol core (server, transport, handshake, mtproto) knows nothing about accounts; it talks to
 * the rest only through the interfaces below.
 */
import type Long from 'long';

/** A decoded TL object, mtcute's shape: `_` is the constructor name, int64 fields are `Long`, bytes are Uint8Array. */
export type TlObject = { _: string } & Record<string, unknown>;

/**
 * A client's connection as the encrypted layer (mtproto/) uses it: it sends and closes through this and
 * never sees the socket or the framing. Implemented by server/'s Connection.
 */
export interface PeerConnection {
  /** For log lines. */
  readonly id: number;
  readonly isOpen: boolean;
  /** Sends one MTProto payload, framed by the connection's transport. */
  send(payload: Uint8Array): void;
  /** Sends a transport error (e.g. 404 → -404), then closes once it is flushed. */
  failWith(code: number, reason: string): void;
  close(reason: string): void;
  /** ping_delay_disconnect: close after `seconds` unless re-armed (0 disarms). */
  armDisconnect(seconds: number): void;
  /**
   * Set once a message decrypted under a known auth key arrived on it: a proven client, never shed for a
   * newcomer when the DC is at its connection cap.
   */
  proven: boolean;
}

/** An authorization key as the DC keeps it. `id` is auth_key_id (low 8 bytes of SHA1(key)), as 16 lower-case hex chars. */
export interface AuthKeyRecord {
  id: string;
  key: Uint8Array; // 256 bytes
  dcId: number;
  createdAt: number; // unix ms
  /** Layer declared by invokeWithLayer on this key (kept per key, not per connection). */
  layer?: number;
  /** initConnection params (api_id, device_model, app_version, …) last seen on this key. */
  client?: { apiId: number; deviceModel: string; systemVersion: string; appVersion: string; langCode: string };
}

/** Where the protocol core finds and keeps auth keys. Implemented by state/. */
export interface AuthKeyStore {
  get(id: string): AuthKeyRecord | undefined;
  /** Called right after dh_gen_ok; must be durable before returning when the DC has a dataDir. */
  add(record: AuthKeyRecord): void;
  setLayer(id: string, layer: number, client?: AuthKeyRecord['client']): void;
  /** Forgets the key (destroy_auth_key); a store without it answers destroy_auth_key_fail. */
  remove?(id: string): void;
}

/** One API call, unwrapped from invokeWithLayer / initConnection / invokeWithoutUpdates by the core. */
export interface RpcCall {
  dcId: number;
  authKeyId: string;
  /** Session id as 16 hex chars. */
  sessionId: string;
  msgId: Long;
  layer: number;
  /** The API method, e.g. `{ _: 'auth.sendCode', phoneNumber, apiId, apiHash, settings }`. */
  method: TlObject;
  /** Whether the call arrived wrapped in invokeWithoutUpdates. */
  withoutUpdates: boolean;
  /** initConnection's parameters, when this call arrived wrapped in initConnection (clients wrap their first call on each connection). */
  client?: AuthKeyRecord['client'];
}

export interface RpcErrorReply {
  error: { code: number; message: string };
}
export interface RpcOkReply {
  /**
   * The method's result: a TL object, an array for Vector<T> of objects, a boolean for Bool,
   * or already-serialized bytes (for the rare result the writer cannot produce).
   */
  result: TlObject | TlObject[] | boolean | Uint8Array;
}
export type RpcReply = RpcOkReply | RpcErrorReply;

/** The API layer, implemented by rpc/. Never throws: every failure is an RpcErrorReply. */
export interface RpcHandler {
  handle(call: RpcCall): Promise<RpcReply>;
}

/**
 * The protocol core's live sessions as the API half sees them: how it pushes server-initiated messages
 * (updates) and asks who is connected. Each DC's core implements it (DcServer); index.ts joins both DCs.
 */
export interface LiveSessions {
  /**
   * Sends `update` (a TL object of type Updates, e.g. updateShortMessage, or updateShort) to every live
   * session of these auth keys, as Telegram pushes updates. A session counts when it has an open
   * connection or had one moments ago (it gets the update when its client reconnects), and — unless
   * `evenWithoutUpdates` — when it made a request not wrapped in invokeWithoutUpdates. Never throws.
   * Returns how many sessions it was queued for.
   */
  push(authKeyIds: readonly string[], update: TlObject, opts?: PushOptions): number;
  /** Session ids (16 hex chars, as RpcCall.sessionId) of this auth key that hold an open connection now. */
  liveSessionIds(authKeyId: string): string[];
}

export interface PushOptions {
  /** The session that caused the update: it gets the result of its own call instead. */
  except?: { authKeyId: string; sessionId: string };
  /** Also sessions that only used invokeWithoutUpdates (for updates addressed to one key, e.g. updateLoginToken). */
  evenWithoutUpdates?: boolean;
}

/** Transport-level faults the core can be told to produce (controls). */
export interface TransportFaults {
  /** Milliseconds to wait before sending any rpc_result (0 = none). */
  answerDelayMs: number;
}

/** A live MTProto session as the core tracks it (for controls' listing). */
export interface SessionInfo {
  dcId: number;
  authKeyId: string;
  sessionId: string;
  connections: number;
  lastSeenAt: number;
}
