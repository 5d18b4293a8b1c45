/** The API half driven directly through its RpcHandler (no network): login flows, errors, messages. */
import { randomBytes } from 'node:crypto';
import Long from 'long';
import { beforeEach, describe, expect, it } from 'vitest';
import type { tl } from '@mtcute/core';
import { computeSrpParams } from '@mtcute/core/utils.js';
import { NodeCryptoProvider } from '@mtcute/node/utils.js';
import { RpcDispatcher } from '../src/rpc/dispatcher.js';
import { FaultInjector } from '../src/rpc/faults.js';
import { SandboxState } from '../src/state/sandbox-state.js';
import { createControls, type SandboxControls } from '../src/controls/controls.js';
import { readTlObject, serializeTl } from '../src/tl/index.js';
import { UpdateFeed } from '../src/rpc/update-feed.js';
import { KeyReferee } from '../src/state/key-referee.js';
import type { LiveSessions, RpcReply, TlObject } from '../src/types.js';

let state: SandboxState;
let rpc: RpcDispatcher;
let controls: SandboxControls;
/** What the API half pushed, as the protocol core received it (no network here). */
let pushed: { keys: readonly string[]; update: TlObject }[];

beforeEach(() => {
  state = new SandboxState();
  pushed = [];
  const live: LiveSessions = {
    push: (keys, update) => pushed.push({ keys, update }),
    liveSessionIds: () => [],
  };
  const faults = new FaultInjector();
  const feed = new UpdateFeed(state, live);
  const referee = new KeyReferee(live);
  rpc = new RpcDispatcher({
    state,
    faults,
    testMode: false,
    feed,
    referee,
    dcs: () => [
      { id: 1, host: '127.0.0.1', port: 1001 },
      { id: 2, host: '127.0.0.1', port: 1002 },
    ],
  });
  controls = createControls(state, faults, () => [], { feed, referee });
});

function newKey(dcId = 2): string {
  const id = randomBytes(8).toString('hex');
  state.keys.forDc(dcId).add({ id, key: new Uint8Array(randomBytes(256)), dcId, createdAt: Date.now() });
  return id;
}

async function call(authKeyId: string, method: TlObject, dcId = 2): Promise<RpcReply> {
  return rpc.handle({ dcId, authKeyId, sessionId: '00', msgId: Long.ZERO, layer: 227, method, withoutUpdates: false });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function ok(authKeyId: string, method: TlObject, dcId = 2): Promise<any> {
  const reply = await call(authKeyId, method, dcId);
  if ('error' in reply) throw new Error(`unexpected error ${reply.error.code} ${reply.error.message}`);
  // Every answer must be something the real TL writer can encode (required fields present, known constructors).
  const bytes = serializeTl(reply.result as TlObject);
  if (!Array.isArray(reply.result) && typeof reply.result === 'object') {
    expect(readTlObject(bytes).value._).toBe((reply.result as TlObject)._);
  }
  return reply.result;
}

async function err(authKeyId: string, method: TlObject, dcId = 2): Promise<string> {
  const reply = await call(authKeyId, method, dcId);
  if (!('error' in reply)) throw new Error(`expected an error, got ${JSON.stringify(reply.result)}`);
  return `${reply.error.code} ${reply.error.message}`;
}

const sendCode = (phone: string) => ({ _: 'auth.sendCode', phoneNumber: phone, apiId: 1, apiHash: 'x', settings: { _: 'codeSettings' } });
const signIn = (phone: string, hash: string, code: string) => ({ _: 'auth.signIn', phoneNumber: phone, phoneCodeHash: hash, phoneCode: code });
const getMe = { _: 'users.getUsers', id: [{ _: 'inputUserSelf' }] };

async function login(key: string, phone: string, dcId = 2): Promise<tl.RawUser> {
  const sent = await ok(key, sendCode(phone), dcId);
  const code = controls.lastCode(phone)!;
  const auth = await ok(key, signIn(phone, sent.phoneCodeHash, code), dcId);
  return auth.user;
}

describe('login by code', () => {
  it('creates a test-number account on first sign-in with X repeated five times', async () => {
    const key = newKey();
    expect(await err(key, getMe)).toBe('401 AUTH_KEY_UNREGISTERED');
    const sent = await ok(key, sendCode('+9996621234'));
    expect(sent._).toBe('auth.sentCode');
    expect(await err(key, signIn('9996621234', sent.phoneCodeHash, '11111'))).toBe('400 PHONE_CODE_INVALID');
    const auth = await ok(key, signIn('9996621234', sent.phoneCodeHash, '22222'));
    expect(auth._).toBe('auth.authorization');
    expect(auth.user).toMatchObject({ _: 'user', self: true, phone: '9996621234' });
    const [me] = await ok(key, getMe);
    expect(me.id).toBe(auth.user.id);
    expect(await ok(key, { _: 'updates.getState' })).toMatchObject({ _: 'updates.state', pts: 1 }); // a new box starts at pts 1
  });

  it('sends a phone homed on DC 2 away from DC 1 with PHONE_MIGRATE_2, and a DC 1 test number the other way', async () => {
    expect(await err(newKey(1), sendCode('9996621234'), 1)).toBe('303 PHONE_MIGRATE_2');
    expect(await err(newKey(2), sendCode('9996611234'), 2)).toBe('303 PHONE_MIGRATE_1');
    controls.createUser({ phone: '15550001111', homeDc: 1 });
    expect(await err(newKey(2), sendCode('15550001111'), 2)).toBe('303 PHONE_MIGRATE_1');
    const user = await login(newKey(1), '15550001111', 1);
    expect(user.phone).toBe('15550001111');
    // createUser homes test numbers like a first sign-in would.
    expect(controls.createUser({ phone: '+9996611234' }).homeDc).toBe(1);
    expect(controls.createUser({ phone: '+9996631234' }).homeDc).toBe(2);
  });

  it('rejects bad phones, foreign and empty hashes, and expired codes', async () => {
    const a = newKey();
    const b = newKey();
    expect(await err(a, sendCode('12'))).toBe('400 PHONE_NUMBER_INVALID');
    expect(await err(a, { ...sendCode('15550001111'), apiId: 0 })).toBe('400 API_ID_INVALID');
    const sent = await ok(a, sendCode('9996621234'));
    expect(await err(b, signIn('9996621234', sent.phoneCodeHash, '22222'))).toBe('400 PHONE_CODE_HASH_INVALID');
    expect(await err(a, signIn('9996621234', '', '22222'))).toBe('400 PHONE_CODE_HASH_EMPTY');
    controls.setCodeLifetime(1);
    const sent2 = await ok(a, sendCode('9996621234'));
    await new Promise((r) => setTimeout(r, 5));
    expect(await err(a, signIn('9996621234', sent2.phoneCodeHash, '22222'))).toBe('400 PHONE_CODE_EXPIRED');
  });

  it('resends and cancels codes', async () => {
    const key = newKey();
    controls.createUser({ phone: '15550001111' });
    const sent = await ok(key, sendCode('15550001111'));
    const resent = await ok(key, { _: 'auth.resendCode', phoneNumber: '15550001111', phoneCodeHash: sent.phoneCodeHash });
    expect(resent.phoneCodeHash).toBe(sent.phoneCodeHash);
    expect(await ok(key, { _: 'auth.cancelCode', phoneNumber: '15550001111', phoneCodeHash: sent.phoneCodeHash })).toBe(true);
    expect(await err(key, signIn('15550001111', sent.phoneCodeHash, controls.lastCode('15550001111')!))).toBe('400 PHONE_CODE_HASH_INVALID');
  });

  it('signs up an unknown ordinary number after PHONE_NUMBER_UNOCCUPIED', async () => {
    const key = newKey();
    const sent = await ok(key, sendCode('15559990000'));
    expect(await err(key, signIn('15559990000', sent.phoneCodeHash, controls.lastCode('15559990000')!))).toBe('400 PHONE_NUMBER_UNOCCUPIED');
    const auth = await ok(key, { _: 'auth.signUp', phoneNumber: '15559990000', phoneCodeHash: sent.phoneCodeHash, firstName: 'New', lastName: '' });
    expect(auth.user).toMatchObject({ firstName: 'New', phone: '15559990000' });
    expect(controls.getUser('15559990000')?.homeDc).toBe(2);
  });
});

describe('2FA', () => {
  it('needs the password after the code and checks it with SRP', async () => {
    const crypto = new NodeCryptoProvider();
    await crypto.initialize();
    controls.createUser({ phone: '15550002222', password: 'correct horse', hint: 'horse' });
    const key = newKey();
    const sent = await ok(key, sendCode('15550002222'));
    expect(await err(key, signIn('15550002222', sent.phoneCodeHash, controls.lastCode('15550002222')!))).toBe('401 SESSION_PASSWORD_NEEDED');
    expect(await err(key, getMe)).toBe('401 SESSION_PASSWORD_NEEDED');

    const pw1 = await ok(key, { _: 'account.getPassword' });
    expect(pw1).toMatchObject({ hasPassword: true, hint: 'horse' });
    const wrong = await computeSrpParams(crypto, pw1, 'wrong');
    expect(await err(key, { _: 'auth.checkPassword', password: wrong })).toBe('400 PASSWORD_HASH_INVALID');
    // The srp_id is single-use.
    expect(await err(key, { _: 'auth.checkPassword', password: wrong })).toBe('400 SRP_ID_INVALID');

    const pw2 = await ok(key, { _: 'account.getPassword' });
    const stale = await computeSrpParams(crypto, pw1, 'correct horse');
    expect(await err(key, { _: 'auth.checkPassword', password: stale })).toBe('400 SRP_ID_INVALID');
    const pw3 = await ok(key, { _: 'account.getPassword' });
    expect(pw3.srpId.eq(pw2.srpId)).toBe(false);
    const right = await computeSrpParams(crypto, pw3, 'correct horse');
    const auth = await ok(key, { _: 'auth.checkPassword', password: right });
    expect(auth.user.phone).toBe('15550002222');
    expect((await ok(key, getMe))[0].self).toBe(true);
  });
});

describe('revocation', () => {
  it('logOut, revoke, terminate, deactivate and account.resetAuthorization give the right 401s', async () => {
    const a = newKey();
    const b = newKey();
    const user = await login(a, '9996621234');
    await login(b, '9996621234');

    const auths = await ok(a, { _: 'account.getAuthorizations' });
    expect(auths.authorizations).toHaveLength(2);
    const other = auths.authorizations.find((x: tl.RawAuthorization) => !x.current);
    expect(await ok(a, { _: 'account.resetAuthorization', hash: other.hash })).toBe(true);
    expect(await err(b, getMe)).toBe('401 SESSION_REVOKED');
    // A terminated key may log out and log in again.
    expect(await ok(b, { _: 'auth.logOut' })).toMatchObject({ _: 'auth.loggedOut' });
    expect(await err(b, getMe)).toBe('401 AUTH_KEY_UNREGISTERED');
    await login(b, '9996621234');
    expect((await ok(b, getMe))[0].id).toBe(user.id);

    controls.terminateSession(b);
    expect(await err(b, getMe)).toBe('401 SESSION_REVOKED');
    controls.revokeAuthKey(a);
    expect(await err(a, getMe)).toBe('401 AUTH_KEY_UNREGISTERED');

    const c = newKey();
    await login(c, '9996621234');
    controls.deactivateUser('+9996621234');
    expect(await err(c, getMe)).toBe('401 USER_DEACTIVATED');
    expect(await err(newKey(), sendCode('9996621234'))).toBe('400 PHONE_NUMBER_BANNED');
    expect(controls.authKeysOfUser(user.id).map((k) => k.authKeyId).sort()).toEqual([b, c].sort());
  });

  it('exports an authorization to the other DC and imports it there once', async () => {
    const home = newKey(2);
    const user = await login(home, '9996621234');
    const exported = await ok(home, { _: 'auth.exportAuthorization', dcId: 1 });
    const other = newKey(1);
    expect(await err(other, { _: 'auth.importAuthorization', id: exported.id, bytes: new Uint8Array(32) }, 1)).toBe('400 AUTH_BYTES_INVALID');
    const imported = await ok(other, { _: 'auth.importAuthorization', id: exported.id, bytes: exported.bytes }, 1);
    expect(imported.user.id).toBe(user.id);
    expect(await err(newKey(1), { _: 'auth.importAuthorization', id: exported.id, bytes: exported.bytes }, 1)).toBe('400 AUTH_BYTES_INVALID');
  });
});

describe('errors', () => {
  it('answers unknown methods clearly and injected errors the given number of times', async () => {
    const key = newKey();
    expect(await err(key, { _: 'stickers.createStickerSet' })).toBe('400 METHOD_NOT_SUPPORTED_IN_SANDBOX_STICKERS_CREATE_STICKER_SET');
    controls.injectFloodWait('help.getConfig', 3, 2);
    expect(await err(key, { _: 'help.getConfig' })).toBe('420 FLOOD_WAIT_3');
    expect(await err(key, { _: 'help.getConfig' })).toBe('420 FLOOD_WAIT_3');
    const config = await ok(key, { _: 'help.getConfig' });
    expect(config.dcOptions.map((o: tl.RawDcOption) => [o.id, o.port])).toEqual([[1, 1001], [2, 1002]]);
    controls.injectError('*', { code: 500, message: 'RPC_CALL_FAIL' }, 1);
    expect(await err(key, { _: 'help.getNearestDc' })).toBe('500 RPC_CALL_FAIL');
    expect(await ok(key, { _: 'help.getNearestDc' })).toMatchObject({ thisDc: 2 });
  });
});

describe('messages', () => {
  it('sends to self and to another account, with history, dialogs and difference', async () => {
    const a = newKey();
    const b = newKey();
    const alice = await login(a, '9996621111');
    const bob = await login(b, '9996622222');
    const state0 = await ok(b, { _: 'updates.getState' });

    const toSelf = await ok(a, { _: 'messages.sendMessage', peer: { _: 'inputPeerSelf' }, message: 'note', randomId: Long.fromInt(7) });
    expect(toSelf.updates[0]).toMatchObject({ _: 'updateMessageID', id: 1 });
    expect(toSelf.updates[1]).toMatchObject({ _: 'updateNewMessage', pts: 2, ptsCount: 1 });

    const peerBob = { _: 'inputPeerUser', userId: bob.id, accessHash: bob.accessHash };
    for (let i = 1; i <= 3; i++) {
      const sent = await ok(a, { _: 'messages.sendMessage', peer: peerBob, message: `hi ${i}`, randomId: Long.fromInt(i) });
      expect(sent).toMatchObject({ _: 'updateShortSentMessage', out: true, id: i + 1, pts: i + 2, ptsCount: 1 });
    }
    expect(await err(a, { _: 'messages.sendMessage', peer: { ...peerBob, accessHash: Long.fromInt(5) }, message: 'x', randomId: Long.ONE })).toBe('400 PEER_ID_INVALID');
    expect(await err(a, { _: 'messages.sendMessage', peer: peerBob, message: '  ', randomId: Long.ONE })).toBe('400 MESSAGE_EMPTY');

    const hist = await ok(b, { _: 'messages.getHistory', peer: { _: 'inputPeerUser', userId: alice.id, accessHash: alice.accessHash }, offsetId: 0, offsetDate: 0, addOffset: 0, limit: 2, maxId: 0, minId: 0, hash: Long.ZERO });
    expect(hist._).toBe('messages.messagesSlice');
    expect(hist.count).toBe(3);
    expect(hist.messages.map((m: tl.RawMessage) => m.message)).toEqual(['hi 3', 'hi 2']);
    const older = await ok(b, { _: 'messages.getHistory', peer: { _: 'inputPeerUser', userId: alice.id, accessHash: alice.accessHash }, offsetId: hist.messages[1].id, offsetDate: 0, addOffset: 0, limit: 10, maxId: 0, minId: 0, hash: Long.ZERO });
    expect(older.messages.map((m: tl.RawMessage) => m.message)).toEqual(['hi 1']);

    const dialogs = await ok(a, { _: 'messages.getDialogs', offsetDate: 0, offsetId: 0, offsetPeer: { _: 'inputPeerEmpty' }, limit: 20, hash: Long.ZERO, folderId: 0 });
    expect(dialogs.dialogs.map((d: tl.RawDialog) => (d.peer as tl.RawPeerUser).userId)).toEqual([bob.id, alice.id]);
    expect(dialogs.users.map((u: tl.RawUser) => u.id).sort()).toEqual([alice.id, bob.id].sort());
    const next = await ok(a, { _: 'messages.getDialogs', offsetDate: 0, offsetId: dialogs.dialogs[1].topMessage, offsetPeer: { _: 'inputPeerEmpty' }, limit: 20, hash: Long.ZERO, folderId: 0 });
    expect(next.dialogs).toHaveLength(0);

    const diff = await ok(b, { _: 'updates.getDifference', pts: state0.pts, date: state0.date, qts: 0 });
    expect(diff._).toBe('updates.difference');
    expect(diff.newMessages).toHaveLength(3);
    expect(diff.state.pts).toBe(4);
    expect((await ok(b, { _: 'updates.getDifference', pts: 4, date: 0, qts: 0 }))._).toBe('updates.differenceEmpty');
    // Bob's keys got each message pushed: the first with the users, the rest in short.
    const toBob = pushed.filter((p) => p.keys.includes(b)).map((p) => p.update);
    expect(toBob.map((u) => u._)).toEqual(['updates', 'updateShortMessage', 'updateShortMessage']);
    expect(toBob[2]).toMatchObject({ userId: alice.id, message: 'hi 3', pts: 4, ptsCount: 1 });

    const resolved = await ok(a, { _: 'contacts.resolvePhone', phone: '9996622222' });
    expect(resolved.users[0].id).toBe(bob.id);
    const full = await ok(a, { _: 'users.getFullUser', id: { _: 'inputUser', userId: bob.id, accessHash: bob.accessHash } });
    expect(full.fullUser.id).toBe(bob.id);
  });
});
