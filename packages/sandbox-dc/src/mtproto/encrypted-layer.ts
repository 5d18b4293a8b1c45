/**
 * The encrypted layer of MTProto 2.0 (core.telegram.org/mtproto/description, /service_messages,
 * /service_messages_about_messages): decrypts client messages, keeps sessions, salts and msg_id rules,
 * answers service messages itself and hands API calls to the RpcHandler, unwrapped from
 * invokeWithLayer / initConnection / invokeWithoutUpdates.
 */
import type Long from 'long';
import { TlBinaryReader, TlBinaryWriter } from '@mtcute/core/utils.js';
import { decryptMessage, encryptMessage } from '../crypto/message-crypto.js';
import {
  encodeBadMsgNotification,
  encodeBadServerSalt,
  encodeDestroyAuthKeyResult,
  encodeDestroySessionResult,
  encodeFutureSalts,
  encodeGzipPacked,
  encodeMsgContainer,
  encodeMsgsStateInfo,
  encodeNewSessionCreated,
  encodePong,
  encodeRpcAnswerDropped,
  encodeRpcError,
  encodeRpcResult,
  decodeRequestInLayer,
  ID_GZIP_PACKED,
  ID_MSG_CONTAINER,
  inflateGzipPacked,
  LayerConversionError,
  layerChoiceFor,
  LayerTooOldError,
  nativeLayerChoice,
  oldestLayer,
  peekConstructorId,
  peekDeclaredLayer,
  readMsgContainer,
  serializeForDeclaredLayer,
  serializeInLayer,
  TlParseError,
  type LayerChoice,
  type TlContainerMessage,
} from '../tl/index.js';
import type { AuthKeyRecord, AuthKeyStore, PeerConnection, PushOptions, RpcCall, RpcHandler, RpcReply, TlObject } from '../types.js';
import { asClientServiceMessage, isClientServiceConstructor, type ClientServiceMessage } from './client-service.js';
import { checkClientMsgId, ServerMsgIdGenerator } from './msg-id.js';
import { SaltBook } from './salts.js';
import type { MtSession, OutgoingMessage } from './session.js';
import { SessionRegistry } from './session-registry.js';

export type LogFn = (level: 'debug' | 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;

export interface EncryptedLayerOptions {
  dcId: number;
  authKeys: AuthKeyStore;
  rpc: RpcHandler;
  salts: SaltBook;
  log: LogFn;
  /** Milliseconds to hold every rpc_result (controls: "delay answers"). */
  answerDelayMs(): number;
  /** How long a session without a connection still gets pushed updates (default 2 minutes). */
  pushGraceMs?: number;
}

/** Answers larger than this go out as gzip_packed. */
const GZIP_THRESHOLD = 16 * 1024;
/** A container we send stays well under a frame's size. */
const MAX_CONTAINER_BYTES = 256 * 1024;
const MAX_CONTAINER_MESSAGES = 64;
/** Wrappers around the actual method that the core unwraps. */
const MAX_WRAPPER_DEPTH = 8;
/** Requests one session may have running at once; a client past this is flooding (memory bound). */
const MAX_INFLIGHT_PER_SESSION = 1024;
/** A session without a connection still gets pushed updates this long after its last message (its client is reconnecting). */
const DEFAULT_PUSH_GRACE_MS = 2 * 60 * 1000;
/** Keys forgotten through the controls; kept so late packets still get -404 if the store lags behind. */
const MAX_FORGOTTEN_KEYS = 10_000;

interface Incoming {
  session: MtSession;
  conn: PeerConnection;
  key: AuthKeyRecord;
  msgId: Long;
  seqNo: number;
}

export class EncryptedLayer {
  readonly sessions = new SessionRegistry();
  private readonly msgIds = new ServerMsgIdGenerator();
  private readonly forgotten = new Set<string>();

  constructor(private readonly opts: EncryptedLayerOptions) {}

  /** A new key exists (after dh_gen_ok): it may have been forgotten before under the same id. */
  keyCreated(keyId: string): void {
    this.forgotten.delete(keyId);
  }

  forgetKey(keyId: string): void {
    this.sessions.removeKey(keyId);
    this.opts.salts.forget(keyId);
    this.forgotten.add(keyId);
    if (this.forgotten.size > MAX_FORGOTTEN_KEYS) {
      const oldest = this.forgotten.values().next().value;
      if (oldest !== undefined) this.forgotten.delete(oldest);
    }
  }

  connectionClosed(conn: PeerConnection): void {
    this.sessions.connectionClosed(conn);
  }

  /** One encrypted frame from `conn`. Bad input closes the connection; never throws. */
  handleFrame(conn: PeerConnection, frame: Uint8Array): void {
    const keyId = Buffer.from(frame.buffer, frame.byteOffset, 8).toString('hex');
    const key = this.forgotten.has(keyId) ? undefined : this.opts.authKeys.get(keyId);
    if (!key) {
      this.opts.log('debug', 'unknown auth key', { conn: conn.id, keyId });
      conn.failWith(404, 'unknown auth key');
      return;
    }
    // Padded intermediate may append up to 15 bytes; the encrypted part is a whole number of blocks.
    const usable = 24 + Math.floor((frame.length - 24) / 16) * 16;
    const plain = frame.length >= 24 + 48 ? decryptMessage(key.key, frame.subarray(0, usable), 0) : null;
    if (!plain) {
      this.opts.log('debug', 'message does not decrypt', { conn: conn.id, keyId });
      conn.failWith(404, 'undecryptable message');
      return;
    }
    conn.proven = true;
    // salt:long session_id:long msg_id:long seq_no:int length:int (decryptMessage guarantees ≥ 32 bytes).
    const r = TlBinaryReader.manual(plain);
    const salt = r.long();
    const sessionId = r.long();
    const msgId = r.long();
    const seqNo = r.uint();
    const length = r.uint();
    const padding = plain.length - 32 - length;
    if (length % 4 !== 0 || length < 4 || padding < 12 || padding > 1024) {
      this.opts.log('debug', 'bad message length', { conn: conn.id, keyId, length });
      conn.close('bad inner length');
      return;
    }
    const body = plain.subarray(32, 32 + length);

    const session = this.sessions.getOrCreate(keyId, key.key, sessionId);
    this.sessions.bind(session, conn);
    const inc: Incoming = { session, conn, key, msgId, seqNo };

    const problem = checkClientMsgId(msgId);
    if (problem) {
      this.send(session, { body: encodeBadMsgNotification(msgId, seqNo, problem), contentRelated: false, response: true });
      return;
    }
    if (!this.opts.salts.isValid(keyId, key.key, salt)) {
      const current = this.opts.salts.current(key.key);
      this.send(session, { body: encodeBadServerSalt(msgId, seqNo, current), contentRelated: false, response: true });
      return;
    }
    if (!this.acceptMsgId(inc, msgId, seqNo)) return;
    if (!session.announced) {
      session.announced = true;
      const created = encodeNewSessionCreated(msgId, session.uniqueId, this.opts.salts.current(key.key));
      this.send(session, { body: created, contentRelated: true, response: false });
    }
    if (session.outbox.length) this.scheduleFlush(session);
    if (session.missedUpdates) {
      // Pushes went past it while it was away: tell it to catch up, as Telegram does with updatesTooLong.
      session.missedUpdates = false;
      this.send(session, { body: serializeForDeclaredLayer({ _: 'updatesTooLong' }, key.layer), contentRelated: true, response: false });
    }
    this.dispatch(inc, body, true);
  }

  /** Replay check for one client msg_id in this session; answers as Telegram does when it fails. */
  private acceptMsgId(inc: Incoming, msgId: Long, seqNo: number): boolean {
    const verdict = inc.session.seen.add(msgId);
    if (verdict === 'new') return true;
    if (verdict === 'too-old') {
      this.send(inc.session, { body: encodeBadMsgNotification(msgId, seqNo, 20), contentRelated: false, response: true });
      return false;
    }
    // A re-sent request: its answer goes out again if we still have it; otherwise it is ignored
    // (still running: the answer will come; long gone: msgs_state_req tells the client).
    const cached = inc.session.cachedAnswer(msgId);
    if (cached) this.send(inc.session, { body: cached, contentRelated: true, response: true });
    else this.opts.log('debug', 'duplicate msg_id ignored', { keyId: inc.session.authKeyId, msgId: msgId.toString() });
    return false;
  }

  private dispatch(inc: Incoming, body: Uint8Array, topLevel: boolean): void {
    const id = peekConstructorId(body);
    if (id === ID_MSG_CONTAINER) {
      if (!topLevel) return this.reject(inc, 'nested msg_container');
      let inner: TlContainerMessage[];
      try {
        inner = readMsgContainer(body);
      } catch (err) {
        return this.reject(inc, `bad msg_container: ${(err as Error).message}`);
      }
      for (const m of inner) {
        const problem = checkClientMsgId(m.msgId);
        if (problem) {
          this.send(inc.session, { body: encodeBadMsgNotification(m.msgId, m.seqNo, problem), contentRelated: false, response: true });
          continue;
        }
        if (!this.acceptMsgId(inc, m.msgId, m.seqNo)) continue;
        this.dispatch({ ...inc, msgId: m.msgId, seqNo: m.seqNo }, m.body, false);
      }
      return;
    }
    if (id === ID_GZIP_PACKED) {
      let inflated: Uint8Array;
      try {
        inflated = inflateGzipPacked(body);
      } catch (err) {
        return this.reject(inc, `bad gzip_packed: ${(err as Error).message}`);
      }
      return this.dispatch(inc, inflated, false);
    }
    // Read in the layer the request declares, else the one its key declared before (service messages
    // are the same in every layer).
    let choice: LayerChoice;
    try {
      choice = layerChoiceFor(peekDeclaredLayer(body) ?? this.opts.authKeys.get(inc.key.id)?.layer);
    } catch (err) {
      if (!(err instanceof LayerTooOldError)) throw err;
      if (!isClientServiceConstructor(id)) {
        this.opts.log('info', 'client layer older than every schema', { keyId: inc.key.id, layer: err.layer, oldest: oldestLayer() });
        this.answer(inc, { error: { code: 400, message: err.rpcErrorMessage } });
        return;
      }
      choice = nativeLayerChoice();
    }
    let method: TlObject;
    try {
      method = decodeRequestInLayer(body, choice);
    } catch (err) {
      if (err instanceof LayerConversionError) {
        this.opts.log('info', 'request uses a constructor the native layer lacks', { layer: choice.schema.layer, ctor: err.constructorName });
        this.answer(inc, { error: { code: 400, message: err.rpcErrorMessage } });
        return;
      }
      if (isClientServiceConstructor(id)) return this.reject(inc, `bad service message: ${(err as Error).message}`);
      // An unknown method (top level, or the query inside invokeWithLayer / initConnection) is named by its id.
      const unknownMethod = err instanceof TlParseError && err.constructorId !== undefined && (err.inMethodPosition || err.constructorId === id);
      const message = unknownMethod ? `INPUT_METHOD_INVALID_${err.constructorId!.toString(16).padStart(8, '0')}` : 'INPUT_FETCH_ERROR';
      this.opts.log('debug', 'unparsable request', { msgId: inc.msgId.toString(), layer: choice.schema.layer, err: (err as Error).message });
      this.answer(inc, { error: { code: 400, message } });
      return;
    }
    const svc = asClientServiceMessage(method);
    if (svc) return this.handleService(inc, svc);
    if (inc.session.inflight.size >= MAX_INFLIGHT_PER_SESSION) {
      return this.reject(inc, 'too many requests in flight');
    }
    this.handleRpc(inc, method, choice).catch((err: unknown) => {
      this.opts.log('warn', 'rpc dispatch failed', { method: method._, err: (err as Error).message });
    });
  }

  /** A client message that breaks the protocol: Telegram drops such connections. */
  private reject(inc: Incoming, why: string): void {
    this.opts.log('debug', 'closing connection on protocol violation', { conn: inc.conn.id, why });
    inc.conn.close(why);
  }

  private handleService(inc: Incoming, svc: ClientServiceMessage): void {
    const { session, msgId } = inc;
    switch (svc._) {
      case 'mt_ping':
        this.send(session, { body: encodePong(msgId, svc.pingId), contentRelated: false, response: true });
        return;
      case 'mt_ping_delay_disconnect':
        inc.conn.armDisconnect(svc.disconnectDelay);
        this.send(session, { body: encodePong(msgId, svc.pingId), contentRelated: false, response: true });
        return;
      case 'mt_get_future_salts': {
        const count = Math.min(Math.max(svc.num, 1), 64);
        const salts = this.opts.salts.future(inc.key.key, count);
        const now = Math.floor(Date.now() / 1000);
        this.send(session, { body: encodeFutureSalts(msgId, now, salts), contentRelated: true, response: true });
        return;
      }
      case 'mt_msgs_state_req': {
        const states = Uint8Array.from(svc.msgIds.slice(0, 8192), (id) => this.messageState(session, id));
        this.send(session, { body: encodeMsgsStateInfo(msgId, states), contentRelated: false, response: true });
        return;
      }
      case 'mt_destroy_session': {
        const target = this.sessions.get(session.authKeyId, svc.sessionId);
        const ok = target !== undefined && target !== session;
        if (ok) this.sessions.remove(target);
        this.send(session, { body: encodeDestroySessionResult(svc.sessionId, ok), contentRelated: false, response: true });
        return;
      }
      case 'mt_rpc_drop_answer': {
        const k = svc.reqMsgId.toString();
        // We cannot stop a running handler; its answer is still sent, which the spec allows.
        const kind = session.inflight.has(k) ? 'running' : 'unknown';
        this.send(session, { body: encodeRpcResult(msgId, encodeRpcAnswerDropped(kind)), contentRelated: true, response: true });
        return;
      }
      case 'mt_destroy_auth_key':
        this.destroyAuthKey(inc);
        return;
      default: // msgs_ack and the messages a server only takes note of
        return;
    }
  }

  /**
   * destroy_auth_key (sent by clients on log-out, encrypted with the key itself): answers
   * destroy_auth_key_ok top-level, then forgets the key, so its next message gets -404. The answer
   * (with anything else queued) leaves at once, because the key's sessions go with it.
   */
  private destroyAuthKey(inc: Incoming): void {
    const { session, key } = inc;
    const store = this.opts.authKeys;
    if (!store.remove) {
      this.send(session, { body: encodeDestroyAuthKeyResult('fail'), contentRelated: false, response: true });
      return;
    }
    session.enqueue({ body: encodeDestroyAuthKeyResult('ok'), contentRelated: false, response: true });
    this.flush(session);
    store.remove(key.id);
    this.forgetKey(key.id);
    this.opts.log('info', 'auth key destroyed by its client', { keyId: key.id });
  }

  /** msgs_state_info status byte for one msg_id (core.telegram.org/mtproto/service_messages_about_messages). */
  private messageState(session: MtSession, id: Long): number {
    const k = id.toString();
    if (session.inflight.has(k)) return 4 | 8 | 32; // received, processing
    if (session.answered.has(k)) return 4 | 8 | 32 | 64; // received, answer generated
    if (session.seen.has(id)) return 4 | 8; // received
    const lowest = session.seen.lowest;
    if (lowest && id.lt(lowest)) return 2; // too old to know
    if ((id.high >>> 0) > Math.floor(Date.now() / 1000) + 30) return 3; // too new
    return 1; // nothing known
  }

  private async handleRpc(inc: Incoming, outer: TlObject, choice: LayerChoice): Promise<void> {
    const { session, key, msgId } = inc;
    let method = outer;
    let layer: number | undefined;
    let client: AuthKeyRecord['client'];
    let withoutUpdates = false;
    for (let depth = 0; depth < MAX_WRAPPER_DEPTH; depth++) {
      const query = method.query as TlObject | undefined;
      if (method._ === 'invokeWithLayer') layer = method.layer as number;
      else if (method._ === 'initConnection') {
        client = {
          apiId: method.apiId as number,
          deviceModel: String(method.deviceModel ?? ''),
          systemVersion: String(method.systemVersion ?? ''),
          appVersion: String(method.appVersion ?? ''),
          langCode: String(method.langCode ?? ''),
        };
      } else if (method._ === 'invokeWithoutUpdates') withoutUpdates = true;
      else if (!(method._.startsWith('invoke') && query && typeof query === 'object')) break;
      if (!query || typeof query !== 'object' || typeof query._ !== 'string') break;
      method = query;
    }

    const k = msgId.toString();
    session.inflight.add(k);
    if (!withoutUpdates) session.receivesUpdates = true;
    let reply: RpcReply;
    try {
      if (layer !== undefined) {
        const known = this.opts.authKeys.get(key.id);
        if (known?.layer !== layer && !choice.exact) {
          this.opts.log('info', 'declared layer has no schema of its own; serving it with the nearest one below', {
            keyId: key.id,
            layer,
            servedWith: choice.schema.layer,
          });
        }
        if (known?.layer !== layer || (client && JSON.stringify(known.client) !== JSON.stringify(client))) {
          this.opts.authKeys.setLayer(key.id, layer, client);
        }
      }
      const knownLayer = layer ?? this.opts.authKeys.get(key.id)?.layer;
      if (knownLayer === undefined) {
        reply = { error: { code: 400, message: 'CONNECTION_NOT_INITED' } };
      } else {
        const call: RpcCall = {
          dcId: this.opts.dcId,
          authKeyId: key.id,
          sessionId: session.sessionIdHex,
          msgId,
          layer: knownLayer,
          method,
          withoutUpdates,
          client,
        };
        reply = await this.opts.rpc.handle(call);
      }
    } catch (err) {
      this.opts.log('warn', 'rpc handler threw', { method: method._, err: (err as Error).message });
      reply = { error: { code: 500, message: 'INTERNAL_SERVER_ERROR' } };
    }
    const delay = this.opts.answerDelayMs();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    this.answer(inc, reply, method._, choice);
  }

  /**
   * Sends rpc_result (or rpc_error inside it) for the request `inc.msgId`, the result written in the
   * layer `choice` serves. Ready-made bytes (RpcOkReply's Uint8Array) go out as they are.
   */
  private answer(inc: Incoming, reply: RpcReply, methodName = '?', choice: LayerChoice = nativeLayerChoice()): void {
    const { session, msgId } = inc;
    let result: Uint8Array;
    if ('error' in reply) {
      result = encodeRpcError(reply.error.code, reply.error.message);
    } else {
      try {
        result = reply.result instanceof Uint8Array ? reply.result : serializeInLayer(reply.result, choice);
      } catch (err) {
        if (err instanceof LayerConversionError) {
          this.opts.log('info', 'answer needs a constructor the client layer lacks', { method: methodName, layer: choice.schema.layer, ctor: err.constructorName });
          result = encodeRpcError(400, err.rpcErrorMessage);
        } else {
          this.opts.log('warn', 'cannot serialize rpc answer', { method: methodName, layer: choice.schema.layer, err: (err as Error).message });
          result = encodeRpcError(500, 'INTERNAL_SERVER_ERROR');
        }
      }
      if (result.length > GZIP_THRESHOLD) result = encodeGzipPacked(result);
    }
    const rpcResult = encodeRpcResult(msgId, result);
    session.markAnswered(msgId, rpcResult);
    this.send(session, { body: rpcResult, contentRelated: true, response: true });
  }

  /**
   * Server-initiated updates: queues `update` for every live session of these keys (LiveSessions.push in
   * types.ts), serialized once. Never throws.
   */
  pushToKeys(authKeyIds: readonly string[], update: TlObject, opts: PushOptions = {}): number {
    const now = Date.now();
    const bodies = new Map<number | undefined, Uint8Array>();
    let count = 0;
    try {
      for (const keyId of authKeyIds) {
        for (const session of this.sessions.ofKey(keyId)) {
          if (opts.except?.authKeyId === keyId && opts.except.sessionId === session.sessionIdHex) continue;
          if (!session.receivesUpdates && !opts.evenWithoutUpdates) continue;
          if (!session.isLive(now, this.opts.pushGraceMs ?? DEFAULT_PUSH_GRACE_MS)) {
            if (session.receivesUpdates) session.missedUpdates = true;
            continue;
          }
          const layer = this.opts.authKeys.get(keyId)?.layer;
          let body = bodies.get(layer);
          if (!body) {
            body = serializeForDeclaredLayer(update, layer);
            if (body.length > GZIP_THRESHOLD) body = encodeGzipPacked(body);
            bodies.set(layer, body);
          }
          this.send(session, { body, contentRelated: true, response: false });
          count++;
        }
      }
    } catch (err) {
      this.opts.log('warn', 'cannot push update', { update: update._, err: (err as Error).message });
    }
    return count;
  }

  /** Session ids of this key with an open connection. */
  liveSessionIds(authKeyId: string): string[] {
    return [...this.sessions.ofKey(authKeyId)].filter((s) => s.hasOpenConnection()).map((s) => s.sessionIdHex);
  }

  /** Queues a message for the session; everything queued in one tick leaves together (in a container if several). */
  private send(session: MtSession, msg: OutgoingMessage): void {
    session.enqueue(msg);
    this.scheduleFlush(session);
  }

  private scheduleFlush(session: MtSession): void {
    if (session.flushScheduled) return;
    session.flushScheduled = true;
    setImmediate(() => {
      session.flushScheduled = false;
      try {
        this.flush(session);
      } catch (err) {
        this.opts.log('warn', 'flush failed', { err: (err as Error).message });
      }
    });
  }

  private flush(session: MtSession): void {
    const conn = session.current;
    if (!conn || !conn.isOpen) return; // kept in the outbox until the client comes back
    const queue = session.outbox.splice(0);
    while (queue.length) {
      const batch: OutgoingMessage[] = [];
      let size = 0;
      while (queue.length && batch.length < MAX_CONTAINER_MESSAGES) {
        const next = queue[0];
        if (batch.length && size + next.body.length + 16 > MAX_CONTAINER_BYTES) break;
        batch.push(queue.shift()!);
        size += next.body.length + 16;
      }
      conn.send(this.encrypt(session, batch));
    }
  }

  private encrypt(session: MtSession, batch: OutgoingMessage[]): Uint8Array {
    let msgId: Long;
    let seqNo: number;
    let body: Uint8Array;
    if (batch.length === 1) {
      msgId = this.msgIds.next(batch[0].response);
      seqNo = session.nextSeqNo(batch[0].contentRelated);
      body = batch[0].body;
    } else {
      const inner = batch.map((m) => ({
        msgId: this.msgIds.next(m.response),
        seqNo: session.nextSeqNo(m.contentRelated),
        body: m.body,
      }));
      msgId = this.msgIds.next(false);
      seqNo = session.nextSeqNo(false);
      body = encodeMsgContainer(inner);
    }
    const w = TlBinaryWriter.manual(32 + body.length);
    w.long(this.opts.salts.current(session.authKey));
    w.long(session.sessionId);
    w.long(msgId);
    w.uint(seqNo);
    w.uint(body.length);
    w.raw(body);
    const plain = w.result();
    return encryptMessage(session.authKey, plain, 8);
  }
}
