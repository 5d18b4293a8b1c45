/**
 * Test helper: runs mtcute's own client-side key exchange (doAuthorization, reached by file path since
 * the package does not export it) against a minimal in-process server built from our crypto modules.
 * Proves RSA_PAD, DH, tmp AES key/iv, aux hash and new_nonce_hash agree with an unmodified client.
 */
import { randomBytes } from 'node:crypto';
import Long from 'long';
import { NodeCryptoProvider, TlBinaryReader, TlBinaryWriter, __tlReaderMap, __tlWriterMap } from '@mtcute/node/utils.js';
import { doAuthorization } from '../../../node_modules/@mtcute/core/network/authorization.js';
import { aesIgeDecrypt, aesIgeEncrypt, tmpAesKeyIv } from '../src/crypto/aes.js';
import { computeAuthKey, DH_G, DH_PRIME, newNonceHash, newServerDh } from '../src/crypto/dh.js';
import type { DcRsaKey } from '../src/crypto/rsa.js';
import { sha1 } from '../src/crypto/hash.js';

type Obj = { _: string } & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function serialize(obj: Obj): Uint8Array {
  return TlBinaryWriter.serializeObject(__tlWriterMap, obj);
}

function plainMessage(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(20 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, 1, true);
  dv.setUint32(12, Math.floor(Date.now() / 1000), true);
  dv.setUint32(16, body.length, true);
  out.set(body, 20);
  return out;
}

/** 1000000007 * 1000000009: a pq mtcute can factor quickly. */
const PQ = Long.fromString('1000000016000000063').toBytesBE();

export interface HandshakeResult {
  clientKey: Uint8Array;
  serverKey: Uint8Array;
  innerConstructor: string;
}

export async function runMtcuteHandshake(rsa: DcRsaKey, dcId = 2): Promise<HandshakeResult> {
  const crypto = new NodeCryptoProvider();
  await crypto.initialize();

  const queue: Uint8Array[] = [];
  let waiter: ((m: Uint8Array) => void) | null = null;
  const push = (body: Uint8Array) => {
    const msg = plainMessage(body);
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(msg);
    } else queue.push(msg);
  };

  const serverNonce = new Uint8Array(randomBytes(16));
  let newNonce: Uint8Array | undefined;
  let a: bigint | undefined;
  let serverKey: Uint8Array | undefined;
  let innerConstructor = '';

  const handle = (packet: Uint8Array) => {
    const req = TlBinaryReader.deserializeObject<Obj>(__tlReaderMap, packet, 20);
    if (req._ === 'mt_req_pq_multi') {
      push(serialize({ _: 'mt_resPQ', nonce: req.nonce, serverNonce, pq: new Uint8Array(PQ), serverPublicKeyFingerprints: [rsa.fingerprint] }));
    } else if (req._ === 'mt_req_DH_params') {
      const data = rsa.decryptRsaPad(req.encryptedData);
      if (!data) throw new Error('RSA_PAD decryption failed');
      const inner = TlBinaryReader.deserializeObject<Obj>(__tlReaderMap, data);
      innerConstructor = inner._;
      newNonce = inner.newNonce as Uint8Array;
      const dh = newServerDh();
      a = dh.a;
      const innerBytes = serialize({
        _: 'mt_server_DH_inner_data',
        nonce: req.nonce,
        serverNonce,
        g: DH_G,
        dhPrime: DH_PRIME,
        gA: dh.gA,
        serverTime: Math.floor(Date.now() / 1000),
      });
      const withHash = new Uint8Array(Math.ceil((20 + innerBytes.length) / 16) * 16);
      withHash.set(sha1(innerBytes), 0);
      withHash.set(innerBytes, 20);
      withHash.set(randomBytes(withHash.length - 20 - innerBytes.length), 20 + innerBytes.length);
      const { key, iv } = tmpAesKeyIv(newNonce, serverNonce);
      push(serialize({ _: 'mt_server_DH_params_ok', nonce: req.nonce, serverNonce, encryptedAnswer: aesIgeEncrypt(withHash, key, iv) }));
    } else if (req._ === 'mt_set_client_DH_params') {
      const { key, iv } = tmpAesKeyIv(newNonce!, serverNonce);
      const plain = aesIgeDecrypt(req.encryptedData, key, iv);
      const reader = new TlBinaryReader(__tlReaderMap, plain, 20);
      const inner = reader.object() as Obj;
      if (!Buffer.from(sha1(plain.subarray(20, reader.pos))).equals(Buffer.from(plain.subarray(0, 20)))) {
        throw new Error('client_DH_inner_data hash mismatch');
      }
      serverKey = computeAuthKey(inner.gB as Uint8Array, a!) ?? undefined;
      if (!serverKey) throw new Error('g_b rejected');
      push(serialize({ _: 'mt_dh_gen_ok', nonce: req.nonce, serverNonce, newNonceHash1: newNonceHash(newNonce!, serverKey, 1) }));
    }
  };

  const log = { prefix: '', create: () => log, debug() {}, verbose() {}, info() {}, warn() {}, error() {} };
  const connection = {
    _session: {
      _readerMap: __tlReaderMap,
      _writerMap: __tlWriterMap,
      getMessageId: () => Long.fromNumber(Date.now() * 4294.967296),
      updateTimeOffset() {},
    },
    log,
    params: { dc: { id: dcId }, testMode: false },
    send: async (packet: Uint8Array) => handle(packet),
    waitForUnencryptedMessage: () =>
      queue.length ? Promise.resolve(queue.shift()!) : new Promise<Uint8Array>((resolve) => (waiter = resolve)),
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const [clientKey] = await doAuthorization(connection as any, crypto);
  return { clientKey, serverKey: serverKey!, innerConstructor };
}
