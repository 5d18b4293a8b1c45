/** The encrypted layer's service rules, driven through the raw client. */
import { randomBytes } from 'node:crypto';
import Long from 'long';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawMtprotoClient } from '../src/testing/raw-mtproto-client.js';
import { startTestDc, type TestDc } from './core-fixtures.js';

let dc: TestDc;
beforeAll(async () => {
  dc = await startTestDc();
});
afterAll(async () => {
  await dc.server.close();
});

async function keyed(): Promise<RawMtprotoClient> {
  const c = await RawMtprotoClient.connect(dc.server.port, 'intermediate');
  await c.exchangeKey(dc.rsa.publicKeyPem);
  return c;
}

function msgIdAt(unixSeconds: number, n = 0): Long {
  return Long.fromBits(n * 4, unixSeconds);
}

describe('key exchange', () => {
  it('stores the key, accepts p_q_inner_data without dc, and the first salt is new_nonce XOR server_nonce', async () => {
    const c = await RawMtprotoClient.connect(dc.server.port, 'abridged');
    const before = dc.store.keys.size;
    const { firstSalt } = await c.exchangeKey(dc.rsa.publicKeyPem, { legacyInnerData: true });
    expect(dc.store.keys.size).toBe(before + 1);
    // With the first salt there is no bad_server_salt: the call is answered directly.
    const config = await c.callWithLayer({ _: 'help.getConfig' });
    expect(config._).toBe('config');
    expect(c.received.some((m) => m.obj?._ === 'mt_bad_server_salt')).toBe(false);
    const created = c.received.find((m) => m.obj?._ === 'mt_new_session_created');
    expect(created).toBeDefined();
    expect(typeof firstSalt.low).toBe('number');
    c.close();
  });

  it('accepts dc, -dc (media) and dc+10000 (test mode); refuses another DC with -404', async () => {
    for (const dcNum of [2, -2, 10002, -10002]) {
      const c = await RawMtprotoClient.connect(dc.server.port);
      await c.exchangeKey(dc.rsa.publicKeyPem, { dc: dcNum });
      c.close();
    }
    const c = await RawMtprotoClient.connect(dc.server.port);
    await expect(c.exchangeKey(dc.rsa.publicKeyPem, { dc: 4 })).rejects.toThrow(/transport error 404|closed/);
    await c.waitClosed();
  });

  it('testMode: true requires dc+10000', async () => {
    const strict = await startTestDc({ testMode: true });
    try {
      const ok = await RawMtprotoClient.connect(strict.server.port);
      await ok.exchangeKey(strict.rsa.publicKeyPem, { dc: 10002 });
      ok.close();
      const bad = await RawMtprotoClient.connect(strict.server.port);
      await expect(bad.exchangeKey(strict.rsa.publicKeyPem, { dc: 2 })).rejects.toThrow();
      bad.close();
    } finally {
      await strict.server.close();
    }
  });

  it('req_DH_params out of order or with garbage gets -404 and a closed connection', async () => {
    const c = await RawMtprotoClient.connect(dc.server.port);
    const body = Buffer.alloc(20 + 40);
    body.writeUInt32LE(40, 16);
    body.writeUInt32LE(0xd712e4be, 20); // req_DH_params, truncated
    c.sendFrame(body);
    const f = await c.nextFrame();
    expect(f && Buffer.from(f).readInt32LE(0)).toBe(-404);
    await c.waitClosed();
  });
});

describe('encrypted layer', () => {
  it('answers an unknown salt with bad_server_salt carrying a salt that then works', async () => {
    const c = await keyed();
    const wrong = Long.fromNumber(123456789);
    const msgId = c.send({ _: 'help.getConfig' }, { salt: wrong });
    const bad = await c.waitForObject('mt_bad_server_salt');
    expect(bad.obj!.badMsgId.eq(msgId)).toBe(true);
    expect(bad.obj!.errorCode).toBe(48);
    c.salt = bad.obj!.newServerSalt;
    expect((await c.callWithLayer({ _: 'help.getConfig' }))._).toBe('config');
    c.close();
  });

  it('rejects msg_ids too old (16), too new (17) and with wrong low bits (18)', async () => {
    const c = await keyed();
    const now = Math.floor(Date.now() / 1000);
    const cases: [Long, number][] = [
      [msgIdAt(now - 400), 16],
      [msgIdAt(now + 60), 17],
      [msgIdAt(now).add(1), 18],
    ];
    for (const [msgId, code] of cases) {
      c.send({ _: 'mt_ping', pingId: Long.ONE }, { msgId });
      const n = await c.waitFor((m) => m.obj?._ === 'mt_bad_msg_notification' && m.obj.badMsgId.eq(msgId));
      expect(n.obj!.errorCode).toBe(code);
      // Server msg ids: answers are ≡ 1 (mod 4).
      expect(n.msgId.low & 3).toBe(1);
    }
    c.close();
  });

  it('a replayed msg_id runs once; its answer is sent again', async () => {
    const c = await keyed();
    await c.callWithLayer({ _: 'help.getConfig' });
    const before = dc.rpc.calls.length;
    const msgId = c.nextMsgId();
    c.send({ _: 'help.getConfig' }, { msgId });
    await c.waitFor((m) => m.reqMsgId?.eq(msgId) === true);
    c.send({ _: 'help.getConfig' }, { msgId });
    // A later ping proves the replay was processed (and dropped) before it.
    c.send({ _: 'mt_ping', pingId: Long.fromNumber(9) });
    await c.waitFor((m) => m.obj?._ === 'mt_pong' && m.obj.pingId.eq(9));
    expect(dc.rpc.calls.length).toBe(before + 1);
    expect(c.received.filter((m) => m.reqMsgId?.eq(msgId)).length).toBe(2);
    c.close();
  });

  it('CONNECTION_NOT_INITED before any layer is known, then the layer is kept per key', async () => {
    const c = await keyed();
    const first = await c.call({ _: 'help.getConfig' });
    expect(first).toMatchObject({ _: 'mt_rpc_error', errorCode: 400, errorMessage: 'CONNECTION_NOT_INITED' });
    await c.callWithLayer({ _: 'help.getNearestDc' });
    // A new connection and a new session on the same key: no wrapper needed any more.
    const c2 = await RawMtprotoClient.connect(dc.server.port, 'full');
    c2.authKey = c.authKey;
    c2.salt = c.salt;
    const again = await c2.call({ _: 'help.getConfig' });
    expect(again._).toBe('config');
    const call = dc.rpc.calls.at(-1)!;
    expect(call.layer).toBe(227);
    expect(call.method._).toBe('help.getConfig');
    c.close();
    c2.close();
  });

  it('unwraps invokeWithoutUpdates and reports it', async () => {
    const c = await keyed();
    await c.callWithLayer({ _: 'invokeWithoutUpdates', query: { _: 'help.getNearestDc' } });
    const call = dc.rpc.calls.at(-1)!;
    expect(call.method._).toBe('help.getNearestDc');
    expect(call.withoutUpdates).toBe(true);
    c.close();
  });

  it('an unknown method constructor gets a clear rpc_error, a truncated one INPUT_FETCH_ERROR', async () => {
    const c = await keyed();
    await c.callWithLayer({ _: 'help.getNearestDc' });
    const unknown = Buffer.alloc(8);
    unknown.writeUInt32LE(0xdeadbeef, 0);
    expect(await c.call(new Uint8Array(unknown))).toMatchObject({ errorCode: 400, errorMessage: 'INPUT_METHOD_INVALID_deadbeef' });
    const truncated = Buffer.alloc(4);
    truncated.writeUInt32LE(0x0d91a548, 0); // users.getUsers with no vector
    expect(await c.call(new Uint8Array(truncated))).toMatchObject({ errorCode: 400, errorMessage: 'INPUT_FETCH_ERROR' });
    c.close();
  });

  it('answers containers (in a container), gzip_packed requests, future salts, msgs_state_req, destroy_session, rpc_drop_answer', async () => {
    const c = await keyed();
    await c.callWithLayer({ _: 'help.getNearestDc' });
    // get_future_salts: a bare vector of bare future_salt, the current salt first.
    const fsMsg = c.send({ _: 'mt_get_future_salts', num: 3 });
    const fs = await c.waitFor((m) => m.obj?._ === 'mt_future_salts' && m.obj.reqMsgId.eq(fsMsg));
    expect(fs.obj!.salts).toHaveLength(3);
    const nowS = Math.floor(Date.now() / 1000);
    expect(fs.obj!.salts[0].validSince).toBeLessThanOrEqual(nowS);
    expect(fs.obj!.salts[0].validUntil).toBeGreaterThan(nowS);
    c.salt = fs.obj!.salts[1].salt; // the next period's salt is accepted already
    expect((await c.call({ _: 'help.getNearestDc' }))._).toBe('nearestDc');

    // msgs_state_req about an answered request and an unknown one.
    const answered = dc.rpc.calls.at(-1)!.msgId;
    const stateReq = c.send({ _: 'mt_msgs_state_req', msgIds: [answered, c.nextMsgId()] });
    const info = await c.waitFor((m) => m.obj?._ === 'mt_msgs_state_info' && m.obj.reqMsgId.eq(stateReq));
    expect(info.obj!.info[0] & 7).toBe(4);
    expect(info.obj!.info[1]).toBe(1);

    // destroy_session of another (unknown) session → destroy_session_none.
    const other = Long.fromNumber(99);
    c.send({ _: 'mt_destroy_session', sessionId: other });
    const ds = await c.waitForObject('mt_destroy_session_none');
    expect(ds.obj!.sessionId.eq(other)).toBe(true);

    // rpc_drop_answer for something never sent.
    const drop = await c.call({ _: 'mt_rpc_drop_answer', reqMsgId: c.nextMsgId() });
    expect(drop._).toBe('mt_rpc_answer_unknown');
    c.close();
  });

  it('a container of requests is answered, and gzip_packed requests are inflated', async () => {
    const c = await keyed();
    await c.callWithLayer({ _: 'help.getNearestDc' });
    const { TlBinaryWriter, __tlWriterMap } = await import('@mtcute/node/utils.js');
    const { deflateSync } = await import('node:zlib');
    const a = TlBinaryWriter.serializeObject(__tlWriterMap, { _: 'help.getNearestDc' });
    const b = TlBinaryWriter.serializeObject(__tlWriterMap, { _: 'help.getConfig' });
    const gz = TlBinaryWriter.manual(1024);
    gz.uint(0x3072cfa1);
    gz.bytes(deflateSync(b));
    const pingObj: { _: string; pingId: Long } = { _: 'mt_ping', pingId: Long.fromNumber(5) };
    const ping = TlBinaryWriter.serializeObject(__tlWriterMap, pingObj);
    const ids = [c.nextMsgId(), c.nextMsgId(), c.nextMsgId()];
    const bodies = [a, gz.result(), ping];
    const w = TlBinaryWriter.manual(4096);
    w.uint(0x73f1f8dc);
    w.uint(3);
    bodies.forEach((body, i) => {
      w.long(ids[i]);
      w.uint(i * 2 + 1);
      w.uint(body.length);
      w.raw(body);
    });
    c.sendEncrypted(w.result(), { contentRelated: false });
    const r0 = await c.waitFor((m) => m.reqMsgId?.eq(ids[0]) === true);
    const r1 = await c.waitFor((m) => m.reqMsgId?.eq(ids[1]) === true);
    const pong = await c.waitForObject('mt_pong');
    expect(r0.result!._).toBe('nearestDc');
    expect(r1.result!._).toBe('config');
    expect(pong.obj!.msgId.eq(ids[2])).toBe(true);
    c.close();
  });

  it('new_session_created once per session id, with that message as first_msg_id', async () => {
    const c = await keyed();
    const first = c.send({ _: 'mt_ping', pingId: Long.ONE });
    const created = await c.waitForObject('mt_new_session_created');
    expect(created.obj!.firstMsgId.eq(first)).toBe(true);
    c.send({ _: 'mt_ping', pingId: Long.fromNumber(2) });
    await c.waitFor((m) => m.obj?._ === 'mt_pong' && m.obj.pingId.eq(2));
    expect(c.received.filter((m) => m.obj?._ === 'mt_new_session_created')).toHaveLength(1);
    // A new session id on the same key and connection gets its own.
    c.sessionId = Long.fromNumber(4242);
    c.send({ _: 'mt_ping', pingId: Long.fromNumber(3) });
    await c.waitFor((m) => m.obj?._ === 'mt_pong' && m.obj.pingId.eq(3));
    expect(c.received.filter((m) => m.obj?._ === 'mt_new_session_created')).toHaveLength(2);
    c.close();
  });

  it('server msg_ids strictly increase; content-related messages have odd seq_no', async () => {
    const c = await keyed();
    await c.callWithLayer({ _: 'help.getNearestDc' });
    for (let i = 0; i < 5; i++) c.send({ _: 'mt_ping', pingId: Long.fromNumber(100 + i) });
    await c.waitFor((m) => m.obj?._ === 'mt_pong' && m.obj.pingId.eq(104));
    const ids = c.received.map((m) => m.msgId);
    for (let i = 1; i < ids.length; i++) expect(ids[i].gt(ids[i - 1])).toBe(true);
    const contentRelated = c.received.filter((m) => m.reqMsgId || m.obj?._ === 'mt_new_session_created');
    const pongs = c.received.filter((m) => m.obj?._ === 'mt_pong');
    expect(contentRelated.length).toBeGreaterThanOrEqual(2); // new_session_created and the rpc_result
    expect(pongs.length).toBeGreaterThanOrEqual(5);
    expect(contentRelated.map((m) => m.seqNo % 2)).toEqual(contentRelated.map(() => 1));
    expect(pongs.map((m) => m.seqNo % 2)).toEqual(pongs.map(() => 0));
    c.close();
  });

  it('ping_delay_disconnect closes the connection after the delay without pings', async () => {
    const c = await keyed();
    c.send({ _: 'mt_ping_delay_disconnect', pingId: Long.ONE, disconnectDelay: 1 });
    await c.waitForObject('mt_pong');
    await c.waitClosed(5000);
  });

  it('setAnswerDelay holds answers; msgs_state_req meanwhile says "processing"', async () => {
    const c = await keyed();
    await c.callWithLayer({ _: 'help.getNearestDc' });
    dc.server.setAnswerDelay(700);
    try {
      const started = Date.now();
      const msgId = c.send({ _: 'help.getNearestDc' });
      await new Promise((r) => setTimeout(r, 100));
      const sr = c.send({ _: 'mt_msgs_state_req', msgIds: [msgId] });
      const info = await c.waitFor((m) => m.obj?._ === 'mt_msgs_state_info' && m.obj.reqMsgId.eq(sr));
      expect(info.obj!.info[0] & 7).toBe(4);
      expect(info.obj!.info[0] & 64).toBe(0);
      await c.waitFor((m) => m.reqMsgId?.eq(msgId) === true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(650);
    } finally {
      dc.server.setAnswerDelay(0);
      c.close();
    }
  });

  it('forgetAuthKey: sessions gone, next packet → -404', async () => {
    const c = await keyed();
    await c.callWithLayer({ _: 'help.getNearestDc' });
    const keyId = [...dc.store.keys.values()].find((k) => Buffer.from(k.key).equals(Buffer.from(c.authKey!)))!.id;
    expect(dc.server.sessions().some((s) => s.authKeyId === keyId)).toBe(true);
    dc.server.forgetAuthKey(keyId);
    dc.store.keys.delete(keyId);
    expect(dc.server.sessions().some((s) => s.authKeyId === keyId)).toBe(false);
    c.send({ _: 'mt_ping', pingId: Long.ONE });
    await c.waitClosed();
    expect(c.transportErrors).toContain(404);
  });

  it('a message for an unknown auth key id gets -404', async () => {
    const c = await RawMtprotoClient.connect(dc.server.port, 'obfuscated-intermediate');
    c.sendFrame(new Uint8Array(randomBytes(8 + 16 + 64)));
    const f = await c.nextFrame();
    expect(f && Buffer.from(f).readInt32LE(0)).toBe(-404);
    await c.waitClosed();
  });
});
