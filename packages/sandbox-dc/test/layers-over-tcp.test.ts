/**
 * API layers over real MTProto on TCP, with the raw client writing each layer's bytes itself: a
 * Pyrogram-like client (SHA1-padded RSA, layer 158) logs in and sends and reads a message; a
 * Telethon-like one (layer 188, no schema of its own) is served with 185 and the DC says so; a layer
 * older than every schema, a method only an old layer has and a method the DC lacks all get a clear
 * rpc_error; a push is written in the key's layer.
 */
import { createRequire } from 'node:module';
import Long from 'long';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TlBinaryReader } from '@mtcute/core/utils.js';
import { RawMtprotoClient } from '../src/testing/raw-mtproto-client.js';
import { startTestSandbox, type TestSandbox } from '../src/testing/sandbox.js';
import { chooseLayer, layerSchema, serializeTlWithSchema, type TlObject } from '../src/tl/index.js';
import { startTestDc, type TestDc } from './core-fixtures.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** Reads bytes with GramJS 2.17.10's own reader (layer 158, the layer Pyrogram 2.0.106 speaks). */
function readLayer158(bytes: Uint8Array): Any {
  const { BinaryReader } = require('tl-layer-158/extensions/BinaryReader.js') as Any;
  return new BinaryReader(Buffer.from(bytes)).tgReadObject();
}

/** Reads bytes with @mtcute/tl 185's own reader map. */
function readLayer185(bytes: Uint8Array): Any {
  const { __tlReaderMap } = require('tl-layer-185/binary/reader.js') as Any;
  return TlBinaryReader.deserializeObject(__tlReaderMap, bytes);
}

/** invokeWithLayer(declared, initConnection(query)) written with the schema `schemaLayer` (default: the one the DC serves `declared` with). */
function inLayer(declared: number, query: TlObject, schemaLayer = chooseLayer(declared)?.schema.layer ?? 158): Uint8Array {
  const initConnection = {
    _: 'initConnection',
    apiId: 6,
    deviceModel: 'raw',
    systemVersion: 'test',
    appVersion: '1.0',
    systemLangCode: 'en',
    langPack: '',
    langCode: 'en',
    query,
  };
  return serializeTlWithSchema({ _: 'invokeWithLayer', layer: declared, query: initConnection }, layerSchema(schemaLayer));
}

const logs: { msg: string; fields?: Record<string, unknown> }[] = [];
let dc: TestSandbox;
beforeAll(async () => {
  dc = await startTestSandbox({ log: (_level, msg, fields) => logs.push({ msg, fields }) });
});
afterAll(async () => {
  await dc.dispose();
});

async function client(): Promise<RawMtprotoClient> {
  const c = await RawMtprotoClient.connect(dc.ports[1], 'abridged');
  await c.exchangeKey(dc.publicKeyPem, { encryption: 'sha1_padded', legacyInnerData: true });
  return c;
}

describe('a client on layer 158 (Pyrogram 2.0.106)', () => {
  it('logs in by code, sends and reads a message, all in layer 158', async () => {
    const c = await client();
    const config = readLayer158((await c.callForMessage(inLayer(158, { _: 'help.getConfig' }))).body);
    expect(config.className).toBe('Config');
    expect(config.dcOptions.map((o: Any) => o.port)).toEqual(dc.ports);

    const phone = '9996621158';
    const write = (obj: TlObject) => serializeTlWithSchema(obj, layerSchema(158));
    const sent = readLayer158(
      (await c.callForMessage(write({ _: 'auth.sendCode', phoneNumber: phone, apiId: 6, apiHash: 'hash', settings: { _: 'codeSettings' } }))).body,
    );
    expect(sent.className).toBe('auth.SentCode');
    const auth = readLayer158(
      (await c.callForMessage(write({ _: 'auth.signIn', phoneNumber: phone, phoneCodeHash: sent.phoneCodeHash, phoneCode: dc.controls.lastCode(phone) }))).body,
    );
    expect(auth.className).toBe('auth.Authorization');
    expect(auth.user.className).toBe('User');
    expect(auth.user.phone).toBe(phone);

    // messages.sendMessage has another constructor id in 158 than in 227.
    expect(layerSchema(158).byName.get('messages.sendMessage')!.id).not.toBe(chooseLayer(227)!.schema.byName.get('messages.sendMessage')!.id);
    const peer = { _: 'inputPeerSelf' };
    const updates = readLayer158((await c.callForMessage(write({ _: 'messages.sendMessage', peer, message: 'from layer 158', randomId: Long.fromNumber(42) }))).body);
    expect(updates.className).toBe('Updates');
    const history = readLayer158(
      (await c.callForMessage(write({ _: 'messages.getHistory', peer, offsetId: 0, offsetDate: 0, addOffset: 0, limit: 10, maxId: 0, minId: 0, hash: Long.ZERO }))).body,
    );
    expect(history.className).toBe('messages.Messages');
    expect(history.messages.map((m: Any) => m.message)).toEqual(['from layer 158']);
    expect(history.users[0].status.className).toBe('UserStatusRecently'); // a constructor whose id changed since 158

    const key = dc.controls.listAuthKeys().find((k) => k.phone === phone);
    expect(key?.layer).toBe(158);
    c.close();
  });
});

describe('layers without a schema of their own', () => {
  it('layer 188 (Telethon 1.37) is served with 185, and the DC logs that it did', async () => {
    const c = await client();
    const config = readLayer185((await c.callForMessage(inLayer(188, { _: 'help.getConfig' }))).body);
    expect(config._).toBe('config');
    expect(logs).toContainEqual(expect.objectContaining({ msg: 'declared layer has no schema of its own; serving it with the nearest one below', fields: expect.objectContaining({ layer: 188, servedWith: 185 }) }));
    c.close();
  });

  it('a layer older than every schema gets a clear rpc_error (and is not stored); service messages still work', async () => {
    const c = await client();
    const answer = await c.call(inLayer(150, { _: 'help.getConfig' }, 158));
    expect(answer).toMatchObject({ _: 'mt_rpc_error', errorCode: 400, errorMessage: 'LAYER_150_NOT_SUPPORTED_OLDEST_IS_158' });
    c.send({ _: 'mt_ping', pingId: Long.fromNumber(5) });
    expect((await c.waitForObject('mt_pong')).obj?.pingId.toNumber()).toBe(5);
    expect(dc.controls.listAuthKeys().every((k) => k.layer !== 150)).toBe(true);
    c.close();
  });
});

describe('methods the DC cannot answer get an rpc_error naming them', () => {
  it('one that exists only in the client’s layer, one the DC does not implement, and an unknown id', async () => {
    const c = await client();
    const onlyIn158 = await c.call(inLayer(158, { _: 'help.getAppChangelog', prevAppVersion: '1.0' }));
    expect(onlyIn158).toMatchObject({ _: 'mt_rpc_error', errorCode: 400, errorMessage: 'METHOD_NOT_SUPPORTED_IN_SANDBOX_HELP_GET_APP_CHANGELOG' });
    const notImplemented = await c.call(inLayer(198, { _: 'messages.getAllStickers', hash: Long.ZERO }));
    expect(notImplemented).toMatchObject({ errorCode: 400, errorMessage: 'METHOD_NOT_SUPPORTED_IN_SANDBOX_MESSAGES_GET_ALL_STICKERS' });
    const unknown = inLayer(198, { _: 'help.getConfig' });
    unknown.set([0xef, 0xbe, 0xad, 0xde], unknown.length - 4); // help.getConfig's id → 0xdeadbeef
    expect(await c.call(unknown)).toMatchObject({ errorCode: 400, errorMessage: 'INPUT_METHOD_INVALID_deadbeef' });
    c.close();
  });
});

describe('pushes', () => {
  let core: TestDc;
  beforeAll(async () => {
    core = await startTestDc();
  });
  afterAll(async () => {
    await core.server.close();
  });

  it('are written in the layer the key declared', async () => {
    const c = await RawMtprotoClient.connect(core.server.port);
    await c.exchangeKey(core.rsa.publicKeyPem);
    await c.callForMessage(inLayer(158, { _: 'help.getConfig' }));
    const keyId = [...core.store.keys.keys()].find((id) => core.store.keys.get(id)!.layer === 158)!;
    const update = { _: 'updateShort', update: { _: 'updateUserStatus', userId: 777, status: { _: 'userStatusRecently', byMe: false } }, date: 1_700_000_000 };
    expect(core.server.pushToAuthKey(keyId, update)).toBe(1);
    const pushed = await c.waitFor((m) => m.constructorId === layerSchema(158).byName.get('updateShort')!.id);
    const read = readLayer158(pushed.body);
    expect(read.className).toBe('UpdateShort');
    expect(read.update.status.className).toBe('UserStatusRecently');
    expect(core.server.pushToAuthKey('0000000000000000', update)).toBe(0);
    c.close();
  });
});
