/**
 * The server side of creating an auth key (core.telegram.org/mtproto/auth_key), one instance per
 * connection: req_pq(_multi) → resPQ, req_DH_params → server_DH_params_ok,
 * set_client_DH_params → dh_gen_ok / dh_gen_retry / dh_gen_fail.
 * Anything out of order or failing a check is a failure; the caller answers it with transport
 * error -404 and closes the connection, as Telegram's DCs do.
 */
import { randomBytes } from 'node:crypto';
import Long from 'long';
import { aesIgeDecrypt, aesIgeEncrypt, tmpAesKeyIv } from '../crypto/aes.js';
import { bigIntToBytes, bytesEqual, bytesToBigInt, concatBytes, xorBytes } from '../crypto/bigint-bytes.js';
import { authKeyId, computeAuthKey, DH_G, DH_PRIME, newNonceHash, newServerDh } from '../crypto/dh.js';
import { sha1 } from '../crypto/hash.js';
import type { DcRsaKey } from '../crypto/rsa.js';
import type { AuthKeyStore } from '../types.js';
import { encodeDhGen, encodeResPq, encodeServerDhInnerData, encodeServerDhParamsOk, parseTl, readTlObject } from '../tl/index.js';
import type { TlObject } from '../types.js';
import { newPq } from './pq.js';

export interface KeyExchangeOptions {
  dcId: number;
  /** true: the client must name the DC as id + 10000 (test DCs); false: as id; undefined: either. */
  testMode?: boolean;
  rsaKey: DcRsaKey;
  authKeys: AuthKeyStore;
  /** A new key passed dh_gen_ok; `firstSalt` is new_nonce[0:8] XOR server_nonce[0:8]. */
  onKeyCreated(keyId: string, firstSalt: Long): void;
}

export type KeyExchangeResult = { reply: Uint8Array } | { failure: string };

// The key-exchange constructors as tl/ reads them (field names as in mtcute's schema).
interface ReqDhParams {
  _: 'mt_req_DH_params';
  nonce: Uint8Array;
  serverNonce: Uint8Array;
  p: Uint8Array;
  q: Uint8Array;
  publicKeyFingerprint: Long;
  encryptedData: Uint8Array;
}
interface SetClientDhParams {
  _: 'mt_set_client_DH_params';
  nonce: Uint8Array;
  serverNonce: Uint8Array;
  encryptedData: Uint8Array;
}
type HandshakeRequest = { _: 'mt_req_pq' | 'mt_req_pq_multi'; nonce: Uint8Array } | ReqDhParams | SetClientDhParams;

/** p_q_inner_data_dc, or the older p_q_inner_data without dc. */
interface PqInnerData {
  _: 'mt_p_q_inner_data' | 'mt_p_q_inner_data_dc';
  pq: Uint8Array;
  p: Uint8Array;
  q: Uint8Array;
  nonce: Uint8Array;
  serverNonce: Uint8Array;
  newNonce: Uint8Array;
  dc?: number;
}
interface ClientDhInnerData {
  _: 'mt_client_DH_inner_data';
  nonce: Uint8Array;
  serverNonce: Uint8Array;
  retryId: Long;
  gB: Uint8Array;
}

const REQUEST_NAMES = new Set(['mt_req_pq', 'mt_req_pq_multi', 'mt_req_DH_params', 'mt_set_client_DH_params']);
const PQ_INNER_NAMES = new Set(['mt_p_q_inner_data', 'mt_p_q_inner_data_dc']);

/** Length of the p_q_inner_data(_dc) at the start of `data`, or null when it is not one. */
function measurePqInnerData(data: Uint8Array): number | null {
  try {
    const { value, end } = readTlObject(data);
    return PQ_INNER_NAMES.has(value._) ? end : null;
  } catch {
    return null;
  }
}

function asHandshakeRequest(obj: TlObject): HandshakeRequest | null {
  return REQUEST_NAMES.has(obj._) ? (obj as unknown as HandshakeRequest) : null;
}

interface PqSent {
  step: 'pq-sent';
  nonce: Uint8Array;
  serverNonce: Uint8Array;
  p: bigint;
  q: bigint;
}

interface DhSent {
  step: 'dh-sent';
  nonce: Uint8Array;
  serverNonce: Uint8Array;
  newNonce: Uint8Array;
  a: bigint;
  tmpKey: Uint8Array;
  tmpIv: Uint8Array;
}

function fail(failure: string): KeyExchangeResult {
  return { failure };
}

export class KeyExchange {
  private state: PqSent | DhSent | null = null;

  constructor(private readonly opts: KeyExchangeOptions) {}

  /** Handles one plain-message body. Never throws. */
  handle(body: Uint8Array): KeyExchangeResult {
    try {
      const req = asHandshakeRequest(parseTl(body));
      if (!req) return fail('unknown plain-message constructor');
      switch (req._) {
        case 'mt_req_pq':
        case 'mt_req_pq_multi':
          return this.onReqPq(req.nonce);
        case 'mt_req_DH_params':
          return this.onReqDhParams(req);
        case 'mt_set_client_DH_params':
          return this.onSetClientDhParams(req);
      }
    } catch (err) {
      this.state = null;
      return fail(`malformed key-exchange message: ${(err as Error).message}`);
    }
  }

  private onReqPq(nonce: Uint8Array): KeyExchangeResult {
    const serverNonce = new Uint8Array(randomBytes(16));
    const { p, q } = newPq();
    this.state = { step: 'pq-sent', nonce, serverNonce, p, q };
    return { reply: encodeResPq(nonce, serverNonce, bigIntToBytes(p * q), [this.opts.rsaKey.fingerprint]) };
  }

  private acceptedDcIds(): Set<number> {
    const { dcId, testMode } = this.opts;
    const ids = testMode === true ? [dcId + 10000] : testMode === false ? [dcId] : [dcId, dcId + 10000];
    return new Set(ids.flatMap((id) => [id, -id]));
  }

  private onReqDhParams(req: ReqDhParams): KeyExchangeResult {
    const st = this.state;
    this.state = null;
    if (st?.step !== 'pq-sent') return fail('req_DH_params without req_pq');
    if (!bytesEqual(req.nonce, st.nonce) || !bytesEqual(req.serverNonce, st.serverNonce)) return fail('nonce mismatch');
    if (bytesToBigInt(req.p) !== st.p || bytesToBigInt(req.q) !== st.q) return fail('wrong p, q');
    if (!req.publicKeyFingerprint.eq(this.opts.rsaKey.fingerprint)) return fail('unknown RSA key fingerprint');
    // RSA_PAD or the older SHA1-padded form: one failure for both, so a client cannot tell which check failed.
    const decrypted = this.opts.rsaKey.decryptInnerData(req.encryptedData, measurePqInnerData);
    if (!decrypted) return fail('encrypted_data does not decrypt (neither RSA_PAD nor SHA1-padded RSA)');
    // The random padding follows the object and is left unread.
    const inner = readTlObject(decrypted).value as unknown as PqInnerData;
    if (!PQ_INNER_NAMES.has(inner._)) return fail('encrypted data is not p_q_inner_data');
    if (!bytesEqual(inner.nonce, st.nonce) || !bytesEqual(inner.serverNonce, st.serverNonce)) {
      return fail('inner nonce mismatch');
    }
    if (bytesToBigInt(inner.pq) !== st.p * st.q || bytesToBigInt(inner.p) !== st.p || bytesToBigInt(inner.q) !== st.q) {
      return fail('inner pq mismatch');
    }
    if (inner.dc !== undefined && !this.acceptedDcIds().has(inner.dc)) return fail(`key requested for dc ${inner.dc}`);

    const { a, gA } = newServerDh();
    const serverTime = Math.floor(Date.now() / 1000);
    const answer = encodeServerDhInnerData({ nonce: st.nonce, serverNonce: st.serverNonce, g: DH_G, dhPrime: DH_PRIME, gA, serverTime });
    const unpadded = 20 + answer.length;
    const padding = randomBytes((16 - (unpadded % 16)) % 16);
    const answerWithHash = concatBytes(sha1(answer), answer, padding);
    const { key, iv } = tmpAesKeyIv(inner.newNonce, st.serverNonce);
    this.state = {
      step: 'dh-sent',
      nonce: st.nonce,
      serverNonce: st.serverNonce,
      newNonce: inner.newNonce,
      a,
      tmpKey: key,
      tmpIv: iv,
    };
    return { reply: encodeServerDhParamsOk(st.nonce, st.serverNonce, aesIgeEncrypt(answerWithHash, key, iv)) };
  }

  private onSetClientDhParams(req: SetClientDhParams): KeyExchangeResult {
    const st = this.state;
    if (st?.step !== 'dh-sent') {
      this.state = null;
      return fail('set_client_DH_params without req_DH_params');
    }
    if (!bytesEqual(req.nonce, st.nonce) || !bytesEqual(req.serverNonce, st.serverNonce)) {
      this.state = null;
      return fail('nonce mismatch');
    }
    if (req.encryptedData.length === 0 || req.encryptedData.length % 16 !== 0) {
      this.state = null;
      return fail('encrypted data not a multiple of 16 bytes');
    }
    const decrypted = aesIgeDecrypt(req.encryptedData, st.tmpKey, st.tmpIv);
    // SHA1(client_DH_inner_data) | client_DH_inner_data | padding
    const { value, end } = readTlObject(decrypted, 20);
    const inner = value as unknown as ClientDhInnerData;
    if (inner._ !== 'mt_client_DH_inner_data' || !bytesEqual(decrypted.subarray(0, 20), sha1(decrypted.subarray(20, end)))) {
      this.state = null;
      return fail('client_DH_inner_data hash mismatch');
    }
    if (!bytesEqual(inner.nonce, st.nonce) || !bytesEqual(inner.serverNonce, st.serverNonce)) {
      this.state = null;
      return fail('inner nonce mismatch');
    }

    const authKey = computeAuthKey(inner.gB, st.a);
    if (!authKey) {
      this.state = null;
      // g_b out of range: the client must start over.
      return { reply: encodeDhGen('fail', st.nonce, st.serverNonce, new Uint8Array(16)) };
    }
    const id = authKeyId(authKey);
    if (this.opts.authKeys.get(id)) {
      // auth_key_id collision: ask for a new g_b (retry_id = this key's aux hash); state stays.
      return { reply: encodeDhGen('retry', st.nonce, st.serverNonce, newNonceHash(st.newNonce, authKey, 2)) };
    }
    this.state = null;
    this.opts.authKeys.add({ id, key: authKey, dcId: this.opts.dcId, createdAt: Date.now() });
    const saltBytes = xorBytes(st.newNonce.subarray(0, 8), st.serverNonce.subarray(0, 8));
    this.opts.onKeyCreated(id, Long.fromBytesLE(Array.from(saltBytes)));
    return { reply: encodeDhGen('ok', st.nonce, st.serverNonce, newNonceHash(st.newNonce, authKey, 1)) };
  }
}
