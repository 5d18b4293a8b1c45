/**
 * A small raw MTProto 2.0 client for tests of the sandbox DC: every framing (abridged, intermediate,
 * padded intermediate, full, obfuscated), the client side of the key exchange, and encrypted messages
 * whose bodies are built with mtcute's TL writer map and whose answers are read with its reader map.
 * It exposes the low-level knobs (msg_id, salt, session_id, raw bytes) that hostile-input tests need.
 * The framing and the client side of the handshake are written here independently of the server code.
 */
import { constants, createCipheriv, createDiffieHellman, createHash, publicEncrypt, randomBytes, type Cipher, type DiffieHellman } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import Long from 'long';
import { NodeCryptoProvider, TlBinaryReader, TlBinaryWriter, __tlReaderMap, __tlWriterMap } from '@mtcute/node/utils.js';
import { aesIgeDecrypt, aesIgeEncrypt, tmpAesKeyIv } from '../crypto/aes.js';
import { decryptMessage, encryptMessage } from '../crypto/message-crypto.js';

export type RawTransport =
  | 'abridged'
  | 'intermediate'
  | 'padded'
  | 'full'
  | 'obfuscated-abridged'
  | 'obfuscated-intermediate'
  | 'obfuscated-padded';

type Obj = { _: string } & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface ReceivedMessage {
  msgId: Long;
  seqNo: number;
  constructorId: number;
  /** Parsed with mtcute's reader map (service objects, updates…); undefined for rpc_result. */
  obj?: Obj;
  /** For rpc_result: the request it answers and its parsed result (rpc_error included; undefined when mtcute's reader cannot read it, e.g. another layer). */
  reqMsgId?: Long;
  result?: Obj;
  /** The message body (for rpc_result: the result, inflated), to read with another layer's reader. */
  body: Uint8Array;
  /** The rpc_result's body was gzip_packed. */
  gzipped?: boolean;
}

const sha1 = (...parts: Uint8Array[]) => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const toBig = (b: Uint8Array) => (b.length ? BigInt('0x' + Buffer.from(b).toString('hex')) : 0n);
function fromBig(v: bigint, len?: number): Uint8Array {
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const raw = new Uint8Array(Buffer.from(hex, 'hex'));
  if (len === undefined || raw.length === len) return raw;
  const out = new Uint8Array(len);
  out.set(raw, len - raw.length);
  return out;
}
function stripLeadingZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

/**
 * The client's half of the DH: g_b and g^ab with OpenSSL (bigint modPow costs ~50 ms per exchange
 * and would make the bench measure this client). Creating a DiffieHellman tests the prime, so one
 * per (prime, g) is kept; each call sets its own private exponent and uses it synchronously.
 * Both results are minimal-length big-endian bytes, as clients keep them.
 */
const dhByGroup = new Map<string, DiffieHellman>();
function clientDh(prime: Uint8Array, g: number, gA: Uint8Array): { gB: Uint8Array; authKey: Uint8Array } {
  const group = `${Buffer.from(prime).toString('hex')}:${g}`;
  let dh = dhByGroup.get(group);
  if (!dh) {
    dh = createDiffieHellman(Buffer.from(prime), Buffer.from([g]));
    dhByGroup.set(group, dh);
  }
  dh.setPrivateKey(Buffer.from(fromBig(toBig(new Uint8Array(randomBytes(256))) % toBig(prime), 256)));
  dh.generateKeys();
  return {
    gB: stripLeadingZeros(new Uint8Array(dh.getPublicKey())),
    authKey: stripLeadingZeros(new Uint8Array(dh.computeSecret(Buffer.from(gA)))),
  };
}
const u8 = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

function serialize(obj: Obj): Uint8Array {
  return TlBinaryWriter.serializeObject(__tlWriterMap, obj);
}

function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * The older encryption of p_q_inner_data (core.telegram.org/mtproto/auth_key, before RSA_PAD):
 * SHA1(data) + data + random padding to 255 bytes, raw RSA with the DC's public key.
 */
function sha1PaddedRsa(data: Uint8Array, pem: string, breakHash = false): Uint8Array {
  const hash = sha1(data);
  if (breakHash) hash[0] ^= 1;
  const block = u8(Uint8Array.of(0), hash, data, new Uint8Array(randomBytes(255 - 20 - data.length)));
  return new Uint8Array(publicEncrypt({ key: pem, padding: constants.RSA_NO_PADDING }, block));
}

/** Client-side framing. */
class ClientFraming {
  private buf = Buffer.alloc(0);
  private outSeq = 0;
  private enc?: Cipher;
  private dec?: Cipher;
  readonly inner: 'abridged' | 'intermediate' | 'padded' | 'full';

  constructor(readonly transport: RawTransport) {
    this.inner = transport.replace('obfuscated-', '') as ClientFraming['inner'];
  }

  /** Bytes to send before the first frame. */
  preamble(): Uint8Array {
    const tag =
      this.inner === 'abridged' ? 0xef : this.inner === 'intermediate' ? 0xee : this.inner === 'padded' ? 0xdd : undefined;
    if (!this.transport.startsWith('obfuscated')) {
      if (tag === undefined) return new Uint8Array(0);
      return this.inner === 'abridged' ? Uint8Array.of(0xef) : new Uint8Array(4).fill(tag);
    }
    let init: Uint8Array;
    for (;;) {
      init = new Uint8Array(randomBytes(64));
      const first = Buffer.from(init).readUInt32LE(0);
      if (init[0] === 0xef || first === 0xeeeeeeee || first === 0xdddddddd || Buffer.from(init).readUInt32LE(4) === 0) continue;
      if ([0x44414548, 0x54534f50, 0x20544547, 0x4954504f, 0x02010316].includes(first)) continue;
      break;
    }
    init.fill(tag!, 56, 60);
    init[60] = 2;
    init[61] = 0;
    this.enc = createCipheriv('aes-256-ctr', init.subarray(8, 40), init.subarray(40, 56));
    const rev = Uint8Array.from(init.subarray(8, 56)).reverse();
    this.dec = createCipheriv('aes-256-ctr', rev.subarray(0, 32), rev.subarray(32, 48));
    const encrypted = new Uint8Array(this.enc.update(init));
    init.set(encrypted.subarray(56, 64), 56);
    return init;
  }

  encode(payload: Uint8Array): Uint8Array {
    let out: Uint8Array;
    switch (this.inner) {
      case 'abridged': {
        const words = payload.length / 4;
        out = words < 0x7f ? u8(Uint8Array.of(words), payload) : u8(Uint8Array.of(0x7f, words & 0xff, (words >> 8) & 0xff, (words >> 16) & 0xff), payload);
        break;
      }
      case 'intermediate':
      case 'padded': {
        const pad = this.inner === 'padded' ? new Uint8Array(randomBytes(Math.floor(Math.random() * 16))) : new Uint8Array(0);
        const len = Buffer.alloc(4);
        len.writeUInt32LE(payload.length + pad.length);
        out = u8(len, payload, pad);
        break;
      }
      case 'full': {
        const head = Buffer.alloc(8);
        head.writeUInt32LE(payload.length + 12, 0);
        head.writeUInt32LE(this.outSeq++, 4);
        const body = u8(head, payload);
        const crc = Buffer.alloc(4);
        crc.writeUInt32LE(crc32(body));
        out = u8(body, crc);
        break;
      }
    }
    return this.enc ? new Uint8Array(this.enc.update(out)) : out;
  }

  /** Feeds received bytes, returns complete frame payloads. */
  decode(chunk: Uint8Array): Uint8Array[] {
    const plain = this.dec ? this.dec.update(chunk) : Buffer.from(chunk);
    this.buf = Buffer.concat([this.buf, plain]);
    const frames: Uint8Array[] = [];
    for (;;) {
      const b = this.buf;
      let header: number;
      let len: number;
      let trailer = 0;
      if (this.inner === 'abridged') {
        if (b.length < 1) break;
        if (b[0] < 0x7f) {
          header = 1;
          len = b[0] * 4;
        } else {
          if (b.length < 4) break;
          header = 4;
          len = (b[1] | (b[2] << 8) | (b[3] << 16)) * 4;
        }
      } else if (this.inner === 'full') {
        if (b.length < 4) break;
        header = 8;
        len = b.readUInt32LE(0) - 12;
        trailer = 4;
      } else {
        if (b.length < 4) break;
        header = 4;
        len = b.readUInt32LE(0);
      }
      if (b.length < header + len + trailer) break;
      if (this.inner === 'full' && crc32(b.subarray(0, header + len)) !== b.readUInt32LE(header + len)) throw new Error('bad CRC from server');
      frames.push(new Uint8Array(b.subarray(header, header + len)));
      this.buf = b.subarray(header + len + trailer);
    }
    return frames;
  }
}

export interface AuthKeyResult {
  authKey: Uint8Array;
  /** new_nonce[0:8] XOR server_nonce[0:8] */
  firstSalt: Long;
  serverTime: number;
}

export class RawMtprotoClient {
  private readonly framing: ClientFraming;
  private readonly frames: Uint8Array[] = [];
  private frameWaiters: ((f: Uint8Array | null) => void)[] = [];
  private readonly messages: ReceivedMessage[] = [];
  private messageWaiters: (() => void)[] = [];
  private lastMsgId = Long.ZERO;
  private contentCount = 0;
  closed = false;
  readonly closedPromise: Promise<void>;

  authKey?: Uint8Array;
  salt = Long.ZERO;
  sessionId = new Long(randomBytes(4).readInt32LE(0), randomBytes(4).readInt32LE(0));
  /** Transport errors (e.g. 404) received instead of frames. */
  readonly transportErrors: number[] = [];

  private constructor(
    private readonly socket: Socket,
    transport: RawTransport,
  ) {
    this.framing = new ClientFraming(transport);
    this.closedPromise = new Promise((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.frameWaiters.splice(0)) w(null);
      for (const w of this.messageWaiters.splice(0)) w();
    });
  }

  static async connect(port: number, transport: RawTransport = 'intermediate', host = '127.0.0.1'): Promise<RawMtprotoClient> {
    const socket = connect({ port, host });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawMtprotoClient(socket, transport);
    const preamble = client.framing.preamble();
    if (preamble.length) socket.write(preamble);
    return client;
  }

  private onData(chunk: Buffer): void {
    for (const f of this.framing.decode(chunk)) {
      if (f.length === 4) this.transportErrors.push(-Buffer.from(f).readInt32LE(0));
      if (this.authKey && f.length > 8 && !f.subarray(0, 8).every((b) => b === 0)) {
        this.onEncrypted(f);
        continue;
      }
      const w = this.frameWaiters.shift();
      if (w) w(f);
      else this.frames.push(f);
    }
  }

  /** Raw bytes straight onto the socket (no framing). */
  writeRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** One payload in the connection's framing. */
  sendFrame(payload: Uint8Array): void {
    this.socket.write(this.framing.encode(payload));
  }

  /** The next unencrypted frame (plain messages, transport errors); null when the connection closed. */
  nextFrame(timeoutMs = 10_000): Promise<Uint8Array | null> {
    const f = this.frames.shift();
    if (f) return Promise.resolve(f);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
      this.frameWaiters.push((frame) => {
        clearTimeout(timer);
        resolve(frame);
      });
    });
  }

  nextMsgId(): Long {
    const now = Date.now();
    let id = Long.fromBits(Math.floor((now % 1000) * 4294967.296) & ~3, Math.floor(now / 1000));
    if (id.lte(this.lastMsgId)) id = this.lastMsgId.add(4);
    this.lastMsgId = id;
    return id;
  }

  private plainRequest(obj: Obj): void {
    const body = serialize(obj);
    const head = Buffer.alloc(20);
    const id = this.nextMsgId();
    head.writeInt32LE(id.low, 8);
    head.writeInt32LE(id.high, 12);
    head.writeUInt32LE(body.length, 16);
    this.sendFrame(u8(head, body));
  }

  private async plainAnswer(): Promise<Obj> {
    const f = await this.nextFrame();
    if (!f) throw new Error('connection closed during key exchange');
    if (f.length === 4) throw new Error(`transport error ${-Buffer.from(f).readInt32LE(0)}`);
    const len = Buffer.from(f).readUInt32LE(16);
    return TlBinaryReader.deserializeObject(__tlReaderMap, f.subarray(20, 20 + len)) as Obj;
  }

  /**
   * The client side of the key exchange (core.telegram.org/mtproto/auth_key). `legacyInnerData` sends
   * p_q_inner_data without dc; `encryption` picks RSA_PAD (default, as mtcute and GramJS) or the older
   * SHA1(data) + data + padding under raw RSA (as Telethon and Pyrogram); `breakHash` spoils the hash
   * inside the encrypted data, which the DC must refuse.
   */
  async exchangeKey(
    publicKeyPem: string,
    opts: { dc?: number; legacyInnerData?: boolean; encryption?: 'rsa_pad' | 'sha1_padded'; breakHash?: boolean } = {},
  ): Promise<AuthKeyResult> {
    const crypto = new NodeCryptoProvider();
    await crypto.initialize();
    const nonce = new Uint8Array(randomBytes(16));
    this.plainRequest({ _: 'mt_req_pq_multi', nonce });
    const resPq = await this.plainAnswer();
    if (resPq._ !== 'mt_resPQ' || !Buffer.from(resPq.nonce).equals(Buffer.from(nonce))) throw new Error('bad resPQ');
    const [p, q] = await crypto.factorizePQ(resPq.pq);
    const newNonce = new Uint8Array(randomBytes(32));
    const serverNonce: Uint8Array = resPq.serverNonce;
    let inner: Uint8Array;
    if (opts.legacyInnerData) {
      // p_q_inner_data#83c95aec: not in mtcute's schema, laid out by hand.
      const w = TlBinaryWriter.manual(512);
      w.uint(0x83c95aec);
      w.bytes(resPq.pq);
      w.bytes(p);
      w.bytes(q);
      w.raw(nonce);
      w.raw(serverNonce);
      w.raw(newNonce);
      inner = w.result();
    } else {
      inner = serialize({ _: 'mt_p_q_inner_data_dc', pq: resPq.pq, p, q, nonce, serverNonce, newNonce, dc: opts.dc ?? 2 });
    }
    const encryptedData =
      opts.encryption === 'sha1_padded' ? sha1PaddedRsa(inner, publicKeyPem, opts.breakHash) : this.rsaPad(inner, publicKeyPem, opts.breakHash);
    this.plainRequest({
      _: 'mt_req_DH_params',
      nonce,
      serverNonce,
      p,
      q,
      publicKeyFingerprint: resPq.serverPublicKeyFingerprints[0],
      encryptedData,
    });
    const dhParams = await this.plainAnswer();
    if (dhParams._ !== 'mt_server_DH_params_ok') throw new Error(`unexpected ${dhParams._}`);
    const { key, iv } = tmpAesKeyIv(newNonce, serverNonce);
    const answerWithHash = aesIgeDecrypt(dhParams.encryptedAnswer, key, iv);
    const dhInner = TlBinaryReader.deserializeObject(__tlReaderMap, answerWithHash.subarray(20)) as Obj;
    const { gB, authKey } = clientDh(dhInner.dhPrime, dhInner.g, dhInner.gA);
    const clientInner = serialize({ _: 'mt_client_DH_inner_data', nonce, serverNonce, retryId: Long.ZERO, gB });
    let dataWithHash = u8(sha1(clientInner), clientInner);
    dataWithHash = u8(dataWithHash, new Uint8Array(randomBytes((16 - (dataWithHash.length % 16)) % 16)));
    this.plainRequest({ _: 'mt_set_client_DH_params', nonce, serverNonce, encryptedData: aesIgeEncrypt(dataWithHash, key, iv) });
    const gen = await this.plainAnswer();
    if (gen._ !== 'mt_dh_gen_ok') throw new Error(`unexpected ${gen._}`);
    const aux = sha1(authKey).subarray(0, 8);
    const expected = sha1(newNonce, Uint8Array.of(1), aux).subarray(4, 20);
    if (!Buffer.from(gen.newNonceHash1).equals(Buffer.from(expected))) throw new Error('new_nonce_hash1 mismatch');
    this.authKey = authKey;
    const saltBytes = Buffer.alloc(8);
    for (let i = 0; i < 8; i++) saltBytes[i] = newNonce[i] ^ serverNonce[i];
    this.salt = new Long(saltBytes.readInt32LE(0), saltBytes.readInt32LE(4));
    return { authKey, firstSalt: this.salt, serverTime: dhInner.serverTime };
  }

  /** RSA_PAD (core.telegram.org/mtproto/auth_key), client side. */
  private rsaPad(data: Uint8Array, pem: string, breakHash = false): Uint8Array {
    const dataWithPadding = u8(data, new Uint8Array(randomBytes(192 - data.length)));
    const reversed = Uint8Array.from(dataWithPadding).reverse();
    for (;;) {
      const tempKey = new Uint8Array(randomBytes(32));
      const hash = sha256(tempKey, dataWithPadding);
      if (breakHash) hash[0] ^= 1;
      const dataWithHash = u8(reversed, hash);
      const aesEncrypted = aesIgeEncrypt(dataWithHash, tempKey, new Uint8Array(32));
      const h = sha256(aesEncrypted);
      const tempKeyXor = tempKey.map((x, i) => x ^ h[i]);
      const keyAesEncrypted = u8(tempKeyXor, aesEncrypted);
      try {
        return new Uint8Array(publicEncrypt({ key: pem, padding: constants.RSA_NO_PADDING }, keyAesEncrypted));
      } catch {
        // key_aes_encrypted ≥ modulus: try another temp key
      }
    }
  }

  /** Encrypts and sends one message; returns its msg_id. */
  sendEncrypted(
    body: Uint8Array,
    opts: { msgId?: Long; seqNo?: number; salt?: Long; sessionId?: Long; contentRelated?: boolean } = {},
  ): Long {
    if (!this.authKey) throw new Error('no auth key');
    const msgId = opts.msgId ?? this.nextMsgId();
    const contentRelated = opts.contentRelated ?? true;
    const seqNo = opts.seqNo ?? (contentRelated ? this.contentCount++ * 2 + 1 : this.contentCount * 2);
    const head = Buffer.alloc(32);
    const salt = opts.salt ?? this.salt;
    const sid = opts.sessionId ?? this.sessionId;
    head.writeInt32LE(salt.low, 0);
    head.writeInt32LE(salt.high, 4);
    head.writeInt32LE(sid.low, 8);
    head.writeInt32LE(sid.high, 12);
    head.writeInt32LE(msgId.low, 16);
    head.writeInt32LE(msgId.high, 20);
    head.writeUInt32LE(seqNo, 24);
    head.writeUInt32LE(body.length, 28);
    this.sendFrame(encryptMessage(this.authKey, u8(head, body), 0));
    return msgId;
  }

  /** Sends an API method or service object built with mtcute's writer map. */
  send(obj: Obj, opts: Parameters<RawMtprotoClient['sendEncrypted']>[1] = {}): Long {
    return this.sendEncrypted(serialize(obj), opts);
  }

  /** Sends `obj` and waits for its rpc_result. */
  async call(obj: Obj | Uint8Array, timeoutMs = 10_000): Promise<Obj> {
    return (await this.callForMessage(obj, timeoutMs)).result!;
  }

  /** Sends `obj` (or ready-made bytes, e.g. another layer's) and waits for the message carrying its rpc_result. */
  async callForMessage(obj: Obj | Uint8Array, timeoutMs = 10_000): Promise<ReceivedMessage> {
    const msgId = obj instanceof Uint8Array ? this.sendEncrypted(obj) : this.send(obj);
    return this.waitFor((x) => x.reqMsgId?.eq(msgId) === true, timeoutMs);
  }

  /** Calls wrapped in invokeWithLayer(initConnection(...)), as clients do first. */
  callWithLayer(obj: Obj, layer = 227): Promise<Obj> {
    return this.call({
      _: 'invokeWithLayer',
      layer,
      query: {
        _: 'initConnection',
        apiId: 1,
        deviceModel: 'raw',
        systemVersion: 'test',
        appVersion: '1',
        systemLangCode: 'en',
        langPack: '',
        langCode: 'en',
        query: obj,
      },
    });
  }

  private onEncrypted(frame: Uint8Array): void {
    const usable = 24 + Math.floor((frame.length - 24) / 16) * 16;
    const plain = decryptMessage(this.authKey!, frame.subarray(0, usable), 8);
    if (!plain) throw new Error('server message does not decrypt');
    const dv = Buffer.from(plain);
    const sid = new Long(dv.readInt32LE(8), dv.readInt32LE(12));
    if (!sid.eq(this.sessionId)) return; // another session's answer
    const msgId = new Long(dv.readInt32LE(16), dv.readInt32LE(20));
    const seqNo = dv.readUInt32LE(24);
    const len = dv.readUInt32LE(28);
    this.collect(msgId, seqNo, plain.subarray(32, 32 + len));
    for (const w of this.messageWaiters.splice(0)) w();
  }

  private collect(msgId: Long, seqNo: number, body: Uint8Array): void {
    const id = Buffer.from(body).readUInt32LE(0);
    if (id === 0x73f1f8dc) {
      const r = TlBinaryReader.manual(body, 4);
      const n = r.uint();
      for (let i = 0; i < n; i++) {
        const innerId = r.long();
        const innerSeq = r.uint();
        const innerLen = r.uint();
        this.collect(innerId, innerSeq, r.raw(innerLen));
      }
      return;
    }
    if (id === 0x3072cfa1) {
      const r = TlBinaryReader.manual(body, 4);
      this.collect(msgId, seqNo, new Uint8Array(gunzipSync(r.bytes())));
      return;
    }
    if (id === 0xf35c6d01) {
      const r = TlBinaryReader.manual(body, 4);
      const reqMsgId = r.long();
      let rest = body.subarray(12);
      const gzipped = Buffer.from(rest).readUInt32LE(0) === 0x3072cfa1;
      if (gzipped) rest = new Uint8Array(gunzipSync(TlBinaryReader.manual(rest, 4).bytes()));
      let result: Obj | undefined;
      try {
        result = TlBinaryReader.deserializeObject(__tlReaderMap, rest) as Obj;
      } catch {
        result = undefined; // not layer 227: the caller reads `body` itself
      }
      this.messages.push({ msgId, seqNo, constructorId: id, reqMsgId, result, gzipped, body: rest });
      return;
    }
    if (id === 0xae500895) {
      // future_salts: the bare vector of bare future_salt, read by hand.
      const r = TlBinaryReader.manual(body, 4);
      const reqMsgId = r.long();
      const now = r.int();
      const count = r.uint();
      const salts = Array.from({ length: count }, () => ({ validSince: r.int(), validUntil: r.int(), salt: r.long() }));
      this.messages.push({ msgId, seqNo, constructorId: id, obj: { _: 'mt_future_salts', reqMsgId, now, salts }, body });
      return;
    }
    let obj: Obj | undefined;
    try {
      obj = TlBinaryReader.deserializeObject(__tlReaderMap, body) as Obj;
    } catch {
      obj = undefined;
    }
    this.messages.push({ msgId, seqNo, constructorId: id, obj, body });
  }

  /** Every message received so far (containers flattened). */
  get received(): readonly ReceivedMessage[] {
    return this.messages;
  }

  /** Waits for a received message matching `pred` (including ones already received). */
  async waitFor(pred: (m: ReceivedMessage) => boolean, timeoutMs = 10_000): Promise<ReceivedMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(pred);
      if (found) return found;
      if (this.closed) throw new Error('connection closed while waiting for a message');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a message');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.messageWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for a service object by name (e.g. 'mt_pong'). */
  waitForObject(name: string, timeoutMs = 10_000): Promise<ReceivedMessage> {
    return this.waitFor((m) => m.obj?._ === name, timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }

  /** Resolves when the server closes the connection (or rejects after the timeout). */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closedPromise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }
}
