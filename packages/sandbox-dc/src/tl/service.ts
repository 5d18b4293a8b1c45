/**
 * MTProto service answers (core.telegram.org/mtproto/service_messages and /mtproto/auth_key).
 * rpc_result, rpc_error, msg_container, gzip_packed, future_salts and server_DH_params_fail are laid
 * out by hand (mtcute's writer lacks them or crashes on them); everything else goes through
 * mtcute's writer map under its `mt_` names.
 */
import { gzipSync } from 'node:zlib';
import Long from 'long';
import { TlBinaryWriter, TlSerializationCounter } from '@mtcute/core/utils.js';
import type { TlObject } from '../types.js';
import { ID_FUTURE_SALTS, ID_GZIP_PACKED, ID_MSG_CONTAINER, ID_RPC_ERROR, ID_RPC_RESULT, ID_SERVER_DH_PARAMS_FAIL } from './ids.js';
import { serializeTl } from './writer.js';

/** Writes with a size-counting pass first, so the buffer is exact. */
function handWritten(write: (w: TlBinaryWriter | TlSerializationCounter) => void): Uint8Array {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const counter = new TlSerializationCounter(undefined as any);
  write(counter);
  const writer = TlBinaryWriter.manual(counter.count);
  write(writer);
  return writer.result();
}

/** rpc_result#f35c6d01 req_msg_id:long result:Object — `body` is the already-serialized result. */
export function encodeRpcResult(reqMsgId: Long, body: Uint8Array): Uint8Array {
  return handWritten((w) => {
    w.uint(ID_RPC_RESULT);
    w.long(reqMsgId);
    w.raw(body);
  });
}

/** rpc_error#2144ca19 error_code:int error_message:string (to be wrapped in rpc_result). */
export function encodeRpcError(code: number, message: string): Uint8Array {
  return handWritten((w) => {
    w.uint(ID_RPC_ERROR);
    w.int(code);
    w.string(message);
  });
}

/** msg_container#73f1f8dc messages:vector<%Message>; message = msg_id:long seqno:int bytes:int body:Object. */
export function encodeMsgContainer(msgs: { msgId: Long; seqNo: number; body: Uint8Array }[]): Uint8Array {
  return handWritten((w) => {
    w.uint(ID_MSG_CONTAINER);
    w.uint(msgs.length);
    for (const m of msgs) {
      w.long(m.msgId);
      w.int(m.seqNo);
      w.int(m.body.length);
      w.raw(m.body);
    }
  });
}

/** gzip_packed#3072cfa1 packed_data:bytes, gzip framing (mtcute inflates answers with gunzip). */
export function encodeGzipPacked(body: Uint8Array): Uint8Array {
  const packed = new Uint8Array(gzipSync(body));
  return handWritten((w) => {
    w.uint(ID_GZIP_PACKED);
    w.bytes(packed);
  });
}

/** future_salt valid_since:int valid_until:int salt:long (bare, inside future_salts). */
export interface FutureSalt {
  validSince: number;
  validUntil: number;
  salt: Long;
}

/** future_salts#ae500895 req_msg_id:long now:int salts:vector<future_salt> — a bare vector of bare future_salt. */
export function encodeFutureSalts(reqMsgId: Long, now: number, salts: FutureSalt[]): Uint8Array {
  return handWritten((w) => {
    w.uint(ID_FUTURE_SALTS);
    w.long(reqMsgId);
    w.int(now);
    w.uint(salts.length);
    for (const s of salts) {
      w.int(s.validSince);
      w.int(s.validUntil);
      w.long(s.salt);
    }
  });
}

/** server_DH_params_fail#79cb045d nonce:int128 server_nonce:int128 new_nonce_hash:int128. */
export function encodeServerDhParamsFail(nonce: Uint8Array, serverNonce: Uint8Array, newNonceHash: Uint8Array): Uint8Array {
  return handWritten((w) => {
    w.uint(ID_SERVER_DH_PARAMS_FAIL);
    w.int128(nonce);
    w.int128(serverNonce);
    w.int128(newNonceHash);
  });
}

/** Any service object mtcute's writer knows, by its `mt_` name (e.g. `{ _: 'mt_pong', msgId, pingId }`). */
export function encodeService(obj: TlObject): Uint8Array {
  if (obj._ === 'mt_future_salts') {
    const o = obj as unknown as { reqMsgId: Long; now: number; salts: FutureSalt[] };
    return encodeFutureSalts(o.reqMsgId, o.now, o.salts);
  }
  if (obj._ === 'mt_server_DH_params_fail') {
    const o = obj as unknown as { nonce: Uint8Array; serverNonce: Uint8Array; newNonceHash: Uint8Array };
    return encodeServerDhParamsFail(o.nonce, o.serverNonce, o.newNonceHash);
  }
  if (!obj._.startsWith('mt_')) throw new Error(`not a service object: ${obj._}`);
  return serializeTl(obj);
}

// Typed helpers for the answers the protocol core sends.

export function encodePong(msgId: Long, pingId: Long): Uint8Array {
  return encodeService({ _: 'mt_pong', msgId, pingId });
}

export function encodeNewSessionCreated(firstMsgId: Long, uniqueId: Long, serverSalt: Long): Uint8Array {
  return encodeService({ _: 'mt_new_session_created', firstMsgId, uniqueId, serverSalt });
}

/** bad_server_salt (error_code 48) with the salt the client must use. */
export function encodeBadServerSalt(badMsgId: Long, badMsgSeqno: number, newServerSalt: Long): Uint8Array {
  return encodeService({ _: 'mt_bad_server_salt', badMsgId, badMsgSeqno, errorCode: 48, newServerSalt });
}

/** bad_msg_notification: 16/17 msg_id too low/high, 18 bad msg_id bits, 19 duplicate, 20 too old, 32-35 seqno, 48 salt, 64 bad container. */
export function encodeBadMsgNotification(badMsgId: Long, badMsgSeqno: number, errorCode: number): Uint8Array {
  return encodeService({ _: 'mt_bad_msg_notification', badMsgId, badMsgSeqno, errorCode });
}

/** msgs_state_info: one status byte per queried msg_id (1 unknown, 2 not received, 3 too low, 4 received, +128 answered…). */
export function encodeMsgsStateInfo(reqMsgId: Long, info: Uint8Array): Uint8Array {
  return encodeService({ _: 'mt_msgs_state_info', reqMsgId, info });
}

export function encodeMsgsAck(msgIds: Long[]): Uint8Array {
  return encodeService({ _: 'mt_msgs_ack', msgIds });
}

export function encodeDestroySessionResult(sessionId: Long, existed: boolean): Uint8Array {
  return encodeService({ _: existed ? 'mt_destroy_session_ok' : 'mt_destroy_session_none', sessionId });
}

/** destroy_auth_key_ok / _none / _fail, the answer to destroy_auth_key (sent top-level). */
export function encodeDestroyAuthKeyResult(result: 'ok' | 'none' | 'fail'): Uint8Array {
  return encodeService({ _: `mt_destroy_auth_key_${result}` });
}

export function encodeRpcAnswerDropped(kind: 'unknown' | 'running' | { msgId: Long; seqNo: number; bytes: number }): Uint8Array {
  if (kind === 'unknown') return encodeService({ _: 'mt_rpc_answer_unknown' });
  if (kind === 'running') return encodeService({ _: 'mt_rpc_answer_dropped_running' });
  return encodeService({ _: 'mt_rpc_answer_dropped', ...kind });
}

export function encodeResPq(nonce: Uint8Array, serverNonce: Uint8Array, pq: Uint8Array, fingerprints: Long[]): Uint8Array {
  return encodeService({ _: 'mt_resPQ', nonce, serverNonce, pq, serverPublicKeyFingerprints: fingerprints });
}

export function encodeServerDhParamsOk(nonce: Uint8Array, serverNonce: Uint8Array, encryptedAnswer: Uint8Array): Uint8Array {
  return encodeService({ _: 'mt_server_DH_params_ok', nonce, serverNonce, encryptedAnswer });
}

/** server_DH_inner_data (to be hashed, padded and AES-IGE encrypted into server_DH_params_ok). */
export function encodeServerDhInnerData(p: {
  nonce: Uint8Array;
  serverNonce: Uint8Array;
  g: number;
  dhPrime: Uint8Array;
  gA: Uint8Array;
  serverTime: number;
}): Uint8Array {
  return encodeService({ _: 'mt_server_DH_inner_data', ...p });
}

/** dh_gen_ok / dh_gen_retry / dh_gen_fail with new_nonce_hash1/2/3. */
export function encodeDhGen(result: 'ok' | 'retry' | 'fail', nonce: Uint8Array, serverNonce: Uint8Array, newNonceHash: Uint8Array): Uint8Array {
  const n = result === 'ok' ? 1 : result === 'retry' ? 2 : 3;
  return encodeService({ _: `mt_dh_gen_${result}`, nonce, serverNonce, [`newNonceHash${n}`]: newNonceHash });
}
