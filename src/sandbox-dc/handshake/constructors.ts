/**
 * The key-exchange constructors (core.telegram.org/mtproto/auth_key), read and written with the
 * fixed layouts the schema gives them. Only the protocol core uses these.
 */
import type Long from 'long';
import { BinaryReader, BinaryWriter } from '../mtproto/binary.js';

export const ID = {
  reqPq: 0x60469778,
  reqPqMulti: 0xbe7e8ef1,
  reqDhParams: 0xd712e4be,
  setClientDhParams: 0xf5045f1f,
  resPq: 0x05162463,
  pqInnerData: 0x83c95aec,
  pqInnerDataDc: 0xa9f55f95,
  serverDhParamsOk: 0xd0e8075c,
  serverDhInnerData: 0xb5890dba,
  clientDhInnerData: 0x6643b654,
  dhGenOk: 0x3bcbf734,
  dhGenRetry: 0x46dc1fb9,
  dhGenFail: 0xa69dae02,
} as const;

export type HandshakeRequest =
  | { kind: 'req_pq'; nonce: Uint8Array }
  | {
      kind: 'req_DH_params';
      nonce: Uint8Array;
      serverNonce: Uint8Array;
      p: Uint8Array;
      q: Uint8Array;
      fingerprint: Long;
      encryptedData: Uint8Array;
    }
  | { kind: 'set_client_DH_params'; nonce: Uint8Array; serverNonce: Uint8Array; encryptedData: Uint8Array };

/** Parses a plain-message body; null for a constructor the key exchange does not know. Throws on truncation. */
export function readHandshakeRequest(body: Uint8Array): HandshakeRequest | null {
  const r = new BinaryReader(body);
  const id = r.uint32();
  switch (id) {
    case ID.reqPq:
    case ID.reqPqMulti:
      return { kind: 'req_pq', nonce: r.raw(16) };
    case ID.reqDhParams:
      return {
        kind: 'req_DH_params',
        nonce: r.raw(16),
        serverNonce: r.raw(16),
        p: r.bytes(),
        q: r.bytes(),
        fingerprint: r.long(),
        encryptedData: r.bytes(),
      };
    case ID.setClientDhParams:
      return { kind: 'set_client_DH_params', nonce: r.raw(16), serverNonce: r.raw(16), encryptedData: r.bytes() };
    default:
      return null;
  }
}

export interface PqInnerData {
  pq: Uint8Array;
  p: Uint8Array;
  q: Uint8Array;
  nonce: Uint8Array;
  serverNonce: Uint8Array;
  newNonce: Uint8Array;
  /** Present in p_q_inner_data_dc; absent in the older p_q_inner_data. */
  dc?: number;
}

/** p_q_inner_data or p_q_inner_data_dc (followed by RSA_PAD's random padding, which is ignored). */
export function readPqInnerData(data: Uint8Array): PqInnerData | null {
  const r = new BinaryReader(data);
  const id = r.uint32();
  if (id !== ID.pqInnerData && id !== ID.pqInnerDataDc) return null;
  const inner: PqInnerData = {
    pq: r.bytes(),
    p: r.bytes(),
    q: r.bytes(),
    nonce: r.raw(16),
    serverNonce: r.raw(16),
    newNonce: r.raw(32),
  };
  if (id === ID.pqInnerDataDc) inner.dc = r.int32();
  return inner;
}

export interface ClientDhInnerData {
  nonce: Uint8Array;
  serverNonce: Uint8Array;
  retryId: Long;
  gB: Uint8Array;
}

export function readClientDhInnerData(r: BinaryReader): ClientDhInnerData | null {
  if (r.uint32() !== ID.clientDhInnerData) return null;
  return { nonce: r.raw(16), serverNonce: r.raw(16), retryId: r.long(), gB: r.bytes() };
}

export function writeResPq(nonce: Uint8Array, serverNonce: Uint8Array, pq: Uint8Array, fingerprints: Long[]): Uint8Array {
  return new BinaryWriter().uint32(ID.resPq).raw(nonce).raw(serverNonce).bytes(pq).longVector(fingerprints).result();
}

export function writeServerDhInnerData(
  nonce: Uint8Array,
  serverNonce: Uint8Array,
  g: number,
  dhPrime: Uint8Array,
  gA: Uint8Array,
  serverTime: number,
): Uint8Array {
  return new BinaryWriter()
    .uint32(ID.serverDhInnerData)
    .raw(nonce)
    .raw(serverNonce)
    .int32(g)
    .bytes(dhPrime)
    .bytes(gA)
    .int32(serverTime)
    .result();
}

export function writeServerDhParamsOk(nonce: Uint8Array, serverNonce: Uint8Array, encryptedAnswer: Uint8Array): Uint8Array {
  return new BinaryWriter().uint32(ID.serverDhParamsOk).raw(nonce).raw(serverNonce).bytes(encryptedAnswer).result();
}

export function writeDhGenAnswer(
  kind: 'ok' | 'retry' | 'fail',
  nonce: Uint8Array,
  serverNonce: Uint8Array,
  newNonceHash: Uint8Array,
): Uint8Array {
  const id = kind === 'ok' ? ID.dhGenOk : kind === 'retry' ? ID.dhGenRetry : ID.dhGenFail;
  return new BinaryWriter().uint32(id).raw(nonce).raw(serverNonce).raw(newNonceHash).result();
}
