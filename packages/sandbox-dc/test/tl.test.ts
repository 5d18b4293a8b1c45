import { deflateSync, gzipSync } from 'node:zlib';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import Long from 'long';
import { describe, expect, it } from 'vitest';
import { NodeCryptoProvider, TlBinaryReader, TlBinaryWriter, __tlReaderMap, __tlWriterMap } from '@mtcute/node/utils.js';
import {
  encodeBadServerSalt,
  encodeDhGen,
  encodeFutureSalts,
  encodeGzipPacked,
  encodeMsgContainer,
  encodeMsgsStateInfo,
  encodeNewSessionCreated,
  encodePong,
  encodeResPq,
  encodeRpcError,
  encodeRpcResult,
  encodeServerDhParamsFail,
  encodeService,
  inflateGzipPacked,
  parseTl,
  readMsgContainer,
  readTlObject,
  serializeTl,
  serializeTlVector,
  tlLayer,
  tlSchema,
  TlParseError,
  type TlObject,
} from '../src/tl/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const randomBytes = (n: number): Uint8Array => new Uint8Array(nodeRandomBytes(n));
const write = (obj: Any): Uint8Array => TlBinaryWriter.serializeObject(__tlWriterMap, obj);
const ctorId = (name: string): number => tlSchema().byName.get(name)!.id;
const mtRead = (bytes: Uint8Array): Any => TlBinaryReader.deserializeObject(__tlReaderMap, bytes);

const initConnection = (query: Any): Any => ({
  _: 'invokeWithLayer',
  layer: 227,
  query: {
    _: 'initConnection',
    apiId: 12345,
    deviceModel: 'Linux x64',
    systemVersion: 'Node.js/20',
    appVersion: '0.30.3',
    systemLangCode: 'en',
    langPack: '',
    langCode: 'en',
    params: { _: 'jsonObject', value: [{ _: 'jsonObjectValue', key: 'tz_offset', value: { _: 'jsonNumber', value: 3600 } }] },
    query,
  },
});

const inputPeerUser = { _: 'inputPeerUser', userId: 777000123, accessHash: Long.fromString('-4242424242424242') };

/** The requests mtcute sends during a login plus the other calls the DC serves. */
const REQUESTS: Any[] = [
  { _: 'mt_req_pq_multi', nonce: randomBytes(16) },
  {
    _: 'mt_req_DH_params',
    nonce: randomBytes(16),
    serverNonce: randomBytes(16),
    p: Uint8Array.of(0x3b, 0x9a, 0xca, 0x07),
    q: Uint8Array.of(0x3b, 0x9a, 0xca, 0x09),
    publicKeyFingerprint: Long.fromString('-3414540481677951611'),
    encryptedData: randomBytes(256),
  },
  { _: 'mt_set_client_DH_params', nonce: randomBytes(16), serverNonce: randomBytes(16), encryptedData: randomBytes(336) },
  {
    _: 'mt_p_q_inner_data_dc',
    pq: randomBytes(8),
    p: randomBytes(4),
    q: randomBytes(4),
    nonce: randomBytes(16),
    serverNonce: randomBytes(16),
    newNonce: randomBytes(32),
    dc: -10002,
  },
  { _: 'mt_client_DH_inner_data', nonce: randomBytes(16), serverNonce: randomBytes(16), retryId: Long.ZERO, gB: randomBytes(256) },
  { _: 'mt_get_future_salts', num: 64 },
  { _: 'mt_ping', pingId: Long.fromString('123456789012') },
  { _: 'mt_ping_delay_disconnect', pingId: Long.fromInt(5), disconnectDelay: 75 },
  { _: 'mt_msgs_ack', msgIds: [Long.fromString('7300000000000000001'), Long.fromString('7300000000000000005')] },
  { _: 'mt_msgs_state_req', msgIds: [Long.fromString('7300000000000000001')] },
  { _: 'mt_destroy_session', sessionId: Long.fromString('-1') },
  { _: 'mt_rpc_drop_answer', reqMsgId: Long.fromString('7300000000000000009') },
  { _: 'mt_http_wait', maxDelay: 0, waitAfter: 0, maxWait: 25000 },
  { _: 'mt_msg_resend_req', msgIds: [Long.ONE] },
  initConnection({ _: 'users.getUsers', id: [{ _: 'inputUserSelf' }] }),
  initConnection({ _: 'updates.getState' }),
  initConnection({ _: 'help.getConfig' }),
  { _: 'invokeWithoutUpdates', query: { _: 'help.getNearestDc' } },
  {
    _: 'auth.sendCode',
    phoneNumber: '+9996621234',
    apiId: 12345,
    apiHash: '0123456789abcdef0123456789abcdef',
    settings: { _: 'codeSettings', allowFlashcall: false, currentNumber: true, logoutTokens: [randomBytes(20)] },
  },
  { _: 'auth.resendCode', phoneNumber: '+9996621234', phoneCodeHash: 'abcdef' },
  { _: 'auth.cancelCode', phoneNumber: '+9996621234', phoneCodeHash: 'abcdef' },
  { _: 'auth.signIn', phoneNumber: '+9996621234', phoneCodeHash: 'abcdef', phoneCode: '22222' },
  { _: 'auth.signUp', noJoinedNotifications: true, phoneNumber: '+9996621234', phoneCodeHash: 'h', firstName: 'Ann', lastName: '' },
  { _: 'account.getPassword' },
  {
    _: 'auth.checkPassword',
    password: { _: 'inputCheckPasswordSRP', srpId: Long.fromString('-77'), A: randomBytes(256), M1: randomBytes(32) },
  },
  { _: 'auth.logOut' },
  { _: 'auth.exportAuthorization', dcId: 2 },
  { _: 'auth.importAuthorization', id: Long.fromInt(123456789), bytes: randomBytes(100) },
  { _: 'account.getAuthorizations' },
  { _: 'account.resetAuthorization', hash: Long.fromString('987654321987') },
  { _: 'users.getFullUser', id: { _: 'inputUserSelf' } },
  { _: 'updates.getDifference', pts: 1, ptsTotalLimit: 100, date: 1700000000, qts: 0 },
  {
    _: 'messages.sendMessage',
    noWebpage: true,
    peer: { _: 'inputPeerSelf' },
    message: 'hello, Saved Messages ✓',
    randomId: Long.fromString('-5555555555555'),
    entities: [{ _: 'messageEntityBold', offset: 0, length: 5 }],
  },
  { _: 'messages.sendMessage', peer: inputPeerUser, message: 'hi', randomId: Long.fromInt(1) },
  { _: 'messages.getHistory', peer: inputPeerUser, offsetId: 0, offsetDate: 0, addOffset: 0, limit: 50, maxId: 0, minId: 0, hash: Long.ZERO },
  {
    _: 'messages.getDialogs',
    excludePinned: false,
    offsetDate: 0,
    offsetId: 0,
    offsetPeer: { _: 'inputPeerEmpty' },
    limit: 100,
    hash: Long.ZERO,
  },
];

describe('parseTl on what mtcute sends', () => {
  it(`schema is layer 227`, () => {
    expect(tlLayer()).toBe(227);
  });

  for (const req of REQUESTS) {
    it(`${req._}${req.query ? ` → ${req.query.query?._ ?? req.query._}` : ''}`, () => {
      const bytes = write(req);
      const parsed = parseTl(bytes);
      expect(parsed).toMatchObject(req);
      // and mtcute's writer takes our object back, byte for byte
      expect(Buffer.from(write(parsed))).toEqual(Buffer.from(bytes));
    });
  }

  it('fills absent flags the way mtcute does (false / undefined)', () => {
    const parsed = parseTl(write({ _: 'auth.sendCode', phoneNumber: '1', apiId: 1, apiHash: 'h', settings: { _: 'codeSettings' } }));
    expect(parsed.settings).toStrictEqual({
      _: 'codeSettings',
      allowFlashcall: false,
      currentNumber: false,
      allowAppHash: false,
      allowMissedCall: false,
      allowFirebase: false,
      unknownNumber: false,
      logoutTokens: undefined,
      token: undefined,
      appSandbox: undefined,
    });
  });

  it('int53, long and Bool come back as mtcute types', () => {
    const parsed = parseTl(write({ _: 'messages.getHistory', peer: inputPeerUser, offsetId: 0, offsetDate: 0, addOffset: 0, limit: 1, maxId: 0, minId: 0, hash: Long.fromInt(-3) }));
    const peer = parsed.peer as Any;
    expect(typeof peer.userId).toBe('number');
    expect(Long.isLong(peer.accessHash)).toBe(true);
    expect((parsed.hash as Long).toString()).toBe('-3');
  });

  it('reads the old p_q_inner_data and req_pq that mtcute never sends', () => {
    const w = TlBinaryWriter.manual(200);
    w.uint(0x83c95aec);
    w.bytes(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    w.bytes(Uint8Array.of(1, 2, 3, 4));
    w.bytes(Uint8Array.of(5, 6, 7, 8));
    w.raw(new Uint8Array(16).fill(1));
    w.raw(new Uint8Array(16).fill(2));
    w.raw(new Uint8Array(32).fill(3));
    const inner = parseTl(w.result());
    expect(inner._).toBe('mt_p_q_inner_data');
    expect(inner.newNonce).toEqual(new Uint8Array(32).fill(3));
    expect(inner.serverNonce).toEqual(new Uint8Array(16).fill(2));

    const r = TlBinaryWriter.manual(20);
    r.uint(0x60469778);
    r.raw(new Uint8Array(16).fill(4));
    expect(parseTl(r.result())).toEqual({ _: 'mt_req_pq', nonce: new Uint8Array(16).fill(4) });
  });

  it('bytes fields are copies and plain Uint8Array even from a Buffer', () => {
    const input = Buffer.from(write({ _: 'mt_req_pq_multi', nonce: new Uint8Array(16).fill(1) }));
    const parsed = parseTl(input);
    input.fill(0);
    expect(Buffer.isBuffer(parsed.nonce)).toBe(false);
    expect(parsed.nonce).toEqual(new Uint8Array(16).fill(1));
  });

  it('readTlObject tells where the object ends (RSA_PAD / AES padding after it)', () => {
    const bytes = write(REQUESTS[4]);
    const padded = new Uint8Array(bytes.length + 13);
    padded.set(bytes);
    padded.fill(0xaa, bytes.length);
    const { value, end } = readTlObject(padded);
    expect(value._).toBe('mt_client_DH_inner_data');
    expect(end).toBe(bytes.length);
    expect(readTlObject(Uint8Array.from([0, 0, 0, 0, ...bytes]), 4).end).toBe(bytes.length + 4);
  });
});

describe('gzip_packed and msg_container', () => {
  const sendCode = REQUESTS.find((r) => r._ === 'auth.sendCode');
  const gzipPacked = (packed: Uint8Array) => {
    const w = TlBinaryWriter.manual(packed.length + 8);
    w.uint(0x3072cfa1);
    w.bytes(packed);
    return w.result();
  };

  it('inflates zlib (as mtcute sends) and gzip framing', () => {
    const inner = write(initConnection(sendCode));
    expect(parseTl(gzipPacked(deflateSync(inner)))).toMatchObject(initConnection(sendCode));
    expect(parseTl(gzipPacked(gzipSync(inner)))).toMatchObject(initConnection(sendCode));
    expect(parseTl(encodeGzipPacked(inner))).toMatchObject(initConnection(sendCode));
  });

  it('a gzip_packed nested inside a method is inflated in place', () => {
    const w = TlBinaryWriter.manual(1000);
    w.uint(ctorId('invokeWithLayer'));
    w.int(227);
    w.raw(gzipPacked(deflateSync(write({ _: 'help.getConfig' }))));
    expect(parseTl(w.result())).toEqual({ _: 'invokeWithLayer', layer: 227, query: { _: 'help.getConfig' } });
  });

  it('containers come back with raw bodies, as mtcute lays them out', () => {
    const bodies = [write({ _: 'mt_get_future_salts', num: 64 }), write(initConnection({ _: 'updates.getState' })), write({ _: 'mt_msgs_ack', msgIds: [Long.ONE] })];
    const container = encodeMsgContainer(bodies.map((body, i) => ({ msgId: Long.fromString('7300000000000000000').add(i * 4), seqNo: i * 2 + 1, body })));
    const parsed = parseTl(container) as Any;
    expect(parsed._).toBe('mt_msg_container');
    expect(parsed.messages).toHaveLength(3);
    expect(parsed.messages[1].seqNo).toBe(3);
    expect(parsed.messages[1].msgId.toString()).toBe('7300000000000000004');
    expect(parseTl(parsed.messages[1].body)).toMatchObject(initConnection({ _: 'updates.getState' }));
    expect(parseTl(parsed.messages[0].body)).toEqual({ _: 'mt_get_future_salts', num: 64 });
  });

  it('rejects containers whose lengths lie', () => {
    const good = encodeMsgContainer([{ msgId: Long.ONE, seqNo: 1, body: write({ _: 'mt_ping', pingId: Long.ONE }) }]);
    const dv = new DataView(good.buffer, good.byteOffset);
    for (const len of [13, 1 << 30, -4, 6]) {
      const bad = Uint8Array.from(good);
      new DataView(bad.buffer).setInt32(20, len, true);
      expect(() => parseTl(bad)).toThrow(TlParseError);
    }
    const many = Uint8Array.from(good);
    new DataView(many.buffer).setUint32(4, 0xffffffff, true);
    expect(() => parseTl(many)).toThrow(TlParseError);
    expect(dv.getUint32(0, true)).toBe(0x73f1f8dc);
  });
});

describe('hostile input', () => {
  it('every truncation of a real request is a TlParseError', () => {
    for (const req of REQUESTS.slice(0, 40)) {
      const bytes = write(req);
      for (let n = 0; n < bytes.length; n++) {
        expect(() => parseTl(bytes.subarray(0, n)), `${req._} cut at ${n}`).toThrow(TlParseError);
      }
    }
  });

  it('garbage never throws anything but TlParseError', () => {
    let parsedOk = 0;
    for (let i = 0; i < 20000; i++) {
      const len = i % 200;
      const junk = randomBytes(len);
      // Half the time, start with a real constructor id so the schema paths get exercised.
      if (i % 2 && len >= 4) junk.set(write(REQUESTS[i % REQUESTS.length]).subarray(0, 4));
      try {
        parseTl(junk);
        parsedOk++;
      } catch (err) {
        if (!(err instanceof TlParseError)) throw err;
      }
    }
    expect(parsedOk).toBeLessThan(20000);
  });

  it('unknown constructors name the id', () => {
    const err = (() => {
      try {
        parseTl(Uint8Array.of(0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0));
      } catch (e) {
        return e as TlParseError;
      }
    })();
    expect(err).toBeInstanceOf(TlParseError);
    expect(err!.constructorId).toBe(0xdeadbeef);
    expect(err!.message).toContain('deadbeef');
  });

  it('absurd vector counts and byte lengths fail without allocating', () => {
    const w = TlBinaryWriter.manual(16);
    w.uint(ctorId('users.getUsers'));
    w.uint(0x1cb5c415);
    w.uint(0x7fffffff);
    w.uint(ctorId('inputUserSelf'));
    expect(() => parseTl(w.result())).toThrow(/cannot fit/);
    const b = TlBinaryWriter.manual(12);
    b.uint(ctorId('auth.sendCode')); // phone_number:string first
    b.raw(Uint8Array.of(254, 0xff, 0xff, 0xff));
    b.uint(0);
    expect(() => parseTl(b.result())).toThrow(TlParseError);
  });

  it('deep nesting is refused, not a stack overflow', () => {
    const depth = 100_000;
    const bytes = new Uint8Array(depth * 4 + 4);
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < depth; i++) dv.setUint32(i * 4, ctorId('invokeWithoutUpdates'), true);
    dv.setUint32(depth * 4, ctorId('help.getConfig'), true);
    expect(() => parseTl(bytes)).toThrow(/nesting/);
  });

  it('a gzip bomb is refused', () => {
    const bomb = deflateSync(new Uint8Array(64 * 1024 * 1024));
    const w = TlBinaryWriter.manual(bomb.length + 8);
    w.uint(0x3072cfa1);
    w.bytes(bomb);
    expect(() => parseTl(w.result())).toThrow(TlParseError);
    const notZlib = encodeGzipPacked(Uint8Array.of(1, 2, 3, 4));
    notZlib[10] ^= 0xff;
    expect(() => parseTl(notZlib)).toThrow(TlParseError);
  });
});

describe('container and gzip_packed readers the protocol core dispatches with', () => {
  it('readMsgContainer keeps raw bodies and refuses bad layouts', () => {
    const ping = write({ _: 'mt_ping', pingId: Long.ONE });
    const msgs = readMsgContainer(encodeMsgContainer([{ msgId: Long.fromInt(4), seqNo: 1, body: ping }]));
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.msgId.toNumber()).toBe(4);
    expect(Buffer.from(msgs[0]!.body)).toEqual(Buffer.from(ping));
    const many = Array.from({ length: 1025 }, (_, i) => ({ msgId: Long.fromInt(i * 4), seqNo: 0, body: ping }));
    expect(() => readMsgContainer(encodeMsgContainer(many))).toThrow(/1025 messages/);
    expect(() => readMsgContainer(ping)).toThrow(TlParseError);
    const oddLength = encodeMsgContainer([{ msgId: Long.ONE, seqNo: 1, body: ping }]);
    new DataView(oddLength.buffer, oddLength.byteOffset).setInt32(20, 13, true);
    expect(() => readMsgContainer(oddLength)).toThrow(/invalid length/);
  });

  it('inflateGzipPacked takes zlib (mtcute) and gzip framing, refuses bombs and garbage', () => {
    const body = write({ _: 'mt_ping', pingId: Long.fromInt(7) });
    const zlib = TlBinaryWriter.manual(256);
    zlib.uint(0x3072cfa1);
    zlib.bytes(deflateSync(body));
    expect(Buffer.from(inflateGzipPacked(zlib.result()))).toEqual(Buffer.from(body));
    expect(Buffer.from(inflateGzipPacked(encodeGzipPacked(body)))).toEqual(Buffer.from(body));
    const bomb = TlBinaryWriter.manual(128 * 1024);
    bomb.uint(0x3072cfa1);
    bomb.bytes(gzipSync(new Uint8Array(64 * 1024 * 1024)));
    expect(() => inflateGzipPacked(bomb.result())).toThrow(TlParseError);
    expect(() => inflateGzipPacked(body)).toThrow(TlParseError);
  });
});

describe('serializeTl and service constructors (read back with mtcute reader)', () => {
  it('objects, Vector<object> and Bool', () => {
    const user = { _: 'user', self: true, id: 1234567, accessHash: Long.fromInt(99), firstName: 'Ann', phone: '9996621234' };
    expect(mtRead(serializeTl(user as TlObject))).toMatchObject(user);
    const vec = serializeTl([user as TlObject, { _: 'userEmpty', id: 5 }]);
    expect(mtRead(vec)).toMatchObject([user, { _: 'userEmpty', id: 5 }]);
    expect(mtRead(serializeTl(true))).toBe(true);
    expect(mtRead(serializeTl(false))).toBe(false);
    expect(() => serializeTl({ _: 'noSuchThing' })).toThrow(/noSuchThing/);
    expect(() => serializeTl({ _: 'user' })).toThrow(/user/);
  });

  it('Vector of primitives', () => {
    const r = TlBinaryReader.manual(serializeTlVector('long', [Long.fromInt(3), Long.fromInt(-4)]));
    expect(r.vector(() => r.long()).map(String)).toEqual(['3', '-4']);
  });

  it('rpc_result, rpc_error', () => {
    const err = encodeRpcError(401, 'SESSION_PASSWORD_NEEDED');
    expect(mtRead(err)).toEqual({ _: 'mt_rpc_error', errorCode: 401, errorMessage: 'SESSION_PASSWORD_NEEDED' });
    const res = encodeRpcResult(Long.fromString('7300000000000000004'), err);
    const r = TlBinaryReader.manual(res);
    expect(r.uint()).toBe(0xf35c6d01);
    expect(r.long().toString()).toBe('7300000000000000004');
    expect(Buffer.from(r.raw())).toEqual(Buffer.from(err));
  });

  it('gzip_packed is gzip framing, as mtcute gunzips it', () => {
    const body = serializeTl({ _: 'updates.state', pts: 1, qts: 0, date: 1, seq: 0, unreadCount: 0 });
    const packed = encodeGzipPacked(body);
    const r = TlBinaryReader.manual(packed);
    expect(r.uint()).toBe(0x3072cfa1);
    const data = r.bytes();
    expect([data[0], data[1]]).toEqual([0x1f, 0x8b]);
    // mtcute inflates answers with its crypto provider's gunzip (zlib framing would be rejected there)
    expect(Buffer.from(new NodeCryptoProvider().gunzip(data))).toEqual(Buffer.from(body));
    expect(parseTl(packed)).toEqual(mtRead(body));
  });

  it('future_salts (bare vector of bare future_salt)', () => {
    const salts = [
      { validSince: 100, validUntil: 1900, salt: Long.fromString('-1234567') },
      { validSince: 1800, validUntil: 3600, salt: Long.fromInt(42) },
    ];
    const parsed = mtRead(encodeFutureSalts(Long.fromInt(77), 150, salts));
    expect(parsed).toMatchObject({ _: 'mt_future_salts', reqMsgId: Long.fromInt(77), now: 150, salts: salts.map((s) => ({ _: 'mt_future_salt', ...s })) });
    expect(parseTl(encodeService({ _: 'mt_future_salts', reqMsgId: Long.fromInt(77), now: 150, salts }))).toMatchObject({ salts: [{ validSince: 100 }, { salt: Long.fromInt(42) }] });
  });

  it('container of answers', () => {
    const pong = encodePong(Long.fromInt(10), Long.fromInt(11));
    const c = encodeMsgContainer([
      { msgId: Long.fromInt(1), seqNo: 1, body: pong },
      { msgId: Long.fromInt(5), seqNo: 2, body: encodeNewSessionCreated(Long.fromInt(2), Long.fromInt(3), Long.fromInt(4)) },
    ]);
    const r = TlBinaryReader.manual(c);
    expect(r.uint()).toBe(0x73f1f8dc);
    expect(r.uint()).toBe(2);
    expect(r.long().toNumber()).toBe(1);
    expect(r.int()).toBe(1);
    expect(r.int()).toBe(pong.length);
    expect(mtRead(r.raw(pong.length))).toEqual({ _: 'mt_pong', msgId: Long.fromInt(10), pingId: Long.fromInt(11) });
  });

  it('typed service helpers', () => {
    const nonce = randomBytes(16);
    const sn = randomBytes(16);
    expect(mtRead(encodeBadServerSalt(Long.fromInt(8), 3, Long.fromInt(-9)))).toMatchObject({ _: 'mt_bad_server_salt', errorCode: 48, newServerSalt: Long.fromInt(-9) });
    expect(mtRead(encodeMsgsStateInfo(Long.fromInt(8), Uint8Array.of(4, 1)))).toMatchObject({ _: 'mt_msgs_state_info', info: Uint8Array.of(4, 1) });
    expect(mtRead(encodeResPq(nonce, sn, Uint8Array.of(1, 2), [Long.fromString('-5')]))).toMatchObject({ _: 'mt_resPQ', serverPublicKeyFingerprints: [Long.fromString('-5')] });
    expect(mtRead(encodeDhGen('ok', nonce, sn, new Uint8Array(16).fill(1)))).toMatchObject({ _: 'mt_dh_gen_ok', newNonceHash1: new Uint8Array(16).fill(1) });
    expect(mtRead(encodeDhGen('fail', nonce, sn, new Uint8Array(16).fill(3)))).toMatchObject({ _: 'mt_dh_gen_fail', newNonceHash3: new Uint8Array(16).fill(3) });
    const fail = encodeServerDhParamsFail(nonce, sn, new Uint8Array(16).fill(2));
    expect(parseTl(fail)).toEqual({ _: 'mt_server_DH_params_fail', nonce: Uint8Array.from(nonce), serverNonce: Uint8Array.from(sn), newNonceHash: new Uint8Array(16).fill(2) });
  });
});
