/**
 * MTProto service messages (core.telegram.org/mtproto/service_messages and
 * /service_messages_about_messages): the fixed-layout framing constructors the encrypted layer reads
 * from clients and writes to them. API objects are never laid out here; they go through tl/.
 */
import { gzipSync, unzipSync } from 'node:zlib';
import Long from 'long';
import { BinaryReader, BinaryWriter } from './binary.js';

export const SVC = {
  msgContainer: 0x73f1f8dc,
  gzipPacked: 0x3072cfa1,
  rpcResult: 0xf35c6d01,
  rpcError: 0x2144ca19,
  rpcAnswerUnknown: 0x5e2ad36e,
  rpcAnswerDroppedRunning: 0xcd78e586,
  rpcAnswerDropped: 0xa43ad8b7,
  futureSalts: 0xae500895,
  pong: 0x347773c5,
  destroySessionOk: 0xe22045fc,
  destroySessionNone: 0x62d350c9,
  newSessionCreated: 0x9ec20908,
  msgsAck: 0x62d6b459,
  badMsgNotification: 0xa7eff811,
  badServerSalt: 0xedab447b,
  msgResendReq: 0x7d861a08,
  msgsStateReq: 0xda69fb52,
  msgsStateInfo: 0x04deb57d,
  msgsAllInfo: 0x8cc0d131,
  httpWait: 0x9299359f,
  rpcDropAnswer: 0x58e4a740,
  getFutureSalts: 0xb921bd04,
  ping: 0x7abe77ec,
  pingDelayDisconnect: 0xf3427b8c,
  destroySession: 0xe7512126,
} as const;

/** Upper bound for an inflated gzip_packed body (a frame is ≤ ~1 MiB; this stops zip bombs). */
export const MAX_INFLATED_BYTES = 16 * 1024 * 1024;

/** Client → server service messages the encrypted layer handles itself. */
export type ClientServiceMessage =
  | { kind: 'msgs_ack'; msgIds: Long[] }
  | { kind: 'ping'; pingId: Long }
  | { kind: 'ping_delay_disconnect'; pingId: Long; disconnectDelay: number }
  | { kind: 'get_future_salts'; num: number }
  | { kind: 'msgs_state_req'; msgIds: Long[] }
  | { kind: 'destroy_session'; sessionId: Long }
  | { kind: 'rpc_drop_answer'; reqMsgId: Long }
  | { kind: 'ignored'; name: string };

/** Reads a service message by its constructor id; null when the body is not one (i.e. an API call). */
export function readClientServiceMessage(body: Uint8Array): ClientServiceMessage | null {
  const r = new BinaryReader(body);
  switch (r.uint32()) {
    case SVC.msgsAck:
      return { kind: 'msgs_ack', msgIds: r.longVector() };
    case SVC.ping:
      return { kind: 'ping', pingId: r.long() };
    case SVC.pingDelayDisconnect:
      return { kind: 'ping_delay_disconnect', pingId: r.long(), disconnectDelay: r.int32() };
    case SVC.getFutureSalts:
      return { kind: 'get_future_salts', num: r.int32() };
    case SVC.msgsStateReq:
      return { kind: 'msgs_state_req', msgIds: r.longVector() };
    case SVC.destroySession:
      return { kind: 'destroy_session', sessionId: r.long() };
    case SVC.rpcDropAnswer:
      return { kind: 'rpc_drop_answer', reqMsgId: r.long() };
    case SVC.httpWait:
      return { kind: 'ignored', name: 'http_wait' };
    case SVC.msgResendReq:
      return { kind: 'ignored', name: 'msg_resend_req' };
    case SVC.msgsStateInfo:
      return { kind: 'ignored', name: 'msgs_state_info' };
    case SVC.msgsAllInfo:
      return { kind: 'ignored', name: 'msgs_all_info' };
    default:
      return null;
  }
}

export interface ContainedMessage {
  msgId: Long;
  seqNo: number;
  body: Uint8Array;
}

/** msg_container#73f1f8dc messages:vector<%Message> (body starts at the constructor). Throws on bad layout. */
export function readMsgContainer(body: Uint8Array): ContainedMessage[] {
  const r = new BinaryReader(body);
  r.uint32();
  const count = r.uint32();
  if (count > 1024 || count * 16 > r.remaining) throw new Error(`msg_container with ${count} messages`);
  const out: ContainedMessage[] = [];
  for (let i = 0; i < count; i++) {
    const msgId = r.long();
    const seqNo = r.uint32();
    const len = r.uint32();
    if (len % 4 !== 0) throw new Error('contained message length not a multiple of 4');
    out.push({ msgId, seqNo, body: r.raw(len) });
  }
  return out;
}

/** gzip_packed#3072cfa1 packed_data:bytes → the inflated object. Throws on bad data or too large output. */
export function readGzipPacked(body: Uint8Array): Uint8Array {
  const r = new BinaryReader(body);
  r.uint32();
  const packed = r.bytes();
  // mtcute sends zlib streams (78 9c); gzip framing (1f 8b) is accepted too.
  const inflated = unzipSync(packed, { maxOutputLength: MAX_INFLATED_BYTES });
  return new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
}

export function constructorOf(body: Uint8Array): number {
  return body.length >= 4 ? new DataView(body.buffer, body.byteOffset, 4).getUint32(0, true) : 0;
}

// ---- server → client ----

export function writeMsgContainer(messages: ContainedMessage[]): Uint8Array {
  const w = new BinaryWriter().uint32(SVC.msgContainer).uint32(messages.length);
  for (const m of messages) w.long(m.msgId).uint32(m.seqNo).uint32(m.body.length).raw(m.body);
  return w.result();
}

/** gzip_packed with a real gzip stream (1f 8b), as Telegram sends it: mtcute inflates answers with gunzip. */
export function writeGzipPacked(data: Uint8Array): Uint8Array {
  return new BinaryWriter().uint32(SVC.gzipPacked).bytes(gzipSync(data)).result();
}

/** rpc_result#f35c6d01 req_msg_id:long result:Object. */
export function writeRpcResult(reqMsgId: Long, result: Uint8Array): Uint8Array {
  return new BinaryWriter().uint32(SVC.rpcResult).long(reqMsgId).raw(result).result();
}

export function writeRpcError(code: number, message: string): Uint8Array {
  return new BinaryWriter().uint32(SVC.rpcError).int32(code).bytes(Buffer.from(message, 'utf8')).result();
}

export function writeRpcAnswer(kind: 'unknown' | 'dropped_running'): Uint8Array {
  return new BinaryWriter().uint32(kind === 'unknown' ? SVC.rpcAnswerUnknown : SVC.rpcAnswerDroppedRunning).result();
}

export function writePong(msgId: Long, pingId: Long): Uint8Array {
  return new BinaryWriter().uint32(SVC.pong).long(msgId).long(pingId).result();
}

export function writeNewSessionCreated(firstMsgId: Long, uniqueId: Long, serverSalt: Long): Uint8Array {
  return new BinaryWriter().uint32(SVC.newSessionCreated).long(firstMsgId).long(uniqueId).long(serverSalt).result();
}

export function writeBadMsgNotification(badMsgId: Long, badSeqNo: number, code: number): Uint8Array {
  return new BinaryWriter().uint32(SVC.badMsgNotification).long(badMsgId).uint32(badSeqNo).int32(code).result();
}

export function writeBadServerSalt(badMsgId: Long, badSeqNo: number, newSalt: Long): Uint8Array {
  return new BinaryWriter().uint32(SVC.badServerSalt).long(badMsgId).uint32(badSeqNo).int32(48).long(newSalt).result();
}

export function writeMsgsStateInfo(reqMsgId: Long, states: number[]): Uint8Array {
  return new BinaryWriter().uint32(SVC.msgsStateInfo).long(reqMsgId).bytes(Uint8Array.from(states)).result();
}

export function writeMsgsAck(msgIds: Long[]): Uint8Array {
  return new BinaryWriter().uint32(SVC.msgsAck).longVector(msgIds).result();
}

export function writeDestroySessionAnswer(ok: boolean, sessionId: Long): Uint8Array {
  return new BinaryWriter().uint32(ok ? SVC.destroySessionOk : SVC.destroySessionNone).long(sessionId).result();
}

export interface FutureSalt {
  validSince: number;
  validUntil: number;
  salt: Long;
}

/** future_salts#ae500895 req_msg_id:long now:int salts:vector<future_salt> — a bare vector of bare future_salt. */
export function writeFutureSalts(reqMsgId: Long, now: number, salts: FutureSalt[]): Uint8Array {
  const w = new BinaryWriter().uint32(SVC.futureSalts).long(reqMsgId).int32(now).uint32(salts.length);
  for (const s of salts) w.int32(s.validSince).int32(s.validUntil).long(s.salt);
  return w.result();
}

export { Long };
