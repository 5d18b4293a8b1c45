/**
 * Test helper: the TL objects the sandbox DC answers with, produced by its real RPC handlers (in
 * process, no network) over a login by code, a 2FA login, messages, dialogs, updates, config and
 * log-out, plus the constructor names its handlers and state write (read from their source), for
 * checks over every API layer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Long from 'long';
import { createControls } from '../../src/controls/controls.js';
import { RpcDispatcher } from '../../src/rpc/dispatcher.js';
import { FaultInjector } from '../../src/rpc/faults.js';
import { UpdateFeed } from '../../src/rpc/update-feed.js';
import { KeyReferee } from '../../src/state/key-referee.js';
import { SandboxState } from '../../src/state/sandbox-state.js';
import type { LiveSessions, TlObject } from '../../src/types.js';

export type DcAnswer = TlObject | TlObject[] | boolean;

/** Every answer of a realistic session against the real handlers, in call order, with the method that produced it. */
export async function collectDcAnswers(): Promise<{ method: string; answer: DcAnswer }[]> {
  const state = new SandboxState();
  const faults = new FaultInjector();
  const dcs = () => [
    { id: 1, host: '127.0.0.1', port: 10443 },
    { id: 2, host: '127.0.0.1', port: 10444 },
  ];
  // Pushes are recorded by the feed but go nowhere: the answers are what is collected here.
  const live: LiveSessions = { push: () => 0, liveSessionIds: () => [] };
  const feed = new UpdateFeed(state, live);
  const referee = new KeyReferee(live);
  const rpc = new RpcDispatcher({ state, faults, dcs, testMode: false, feed, referee });
  const controls = createControls(state, faults, () => [], { feed, referee });
  const answers: { method: string; answer: DcAnswer }[] = [];
  let msgId = 0;
  const keyFor = (n: number) => n.toString(16).padStart(16, 'a');
  for (const n of [1, 2, 3]) state.keys.forDc(2).add({ id: keyFor(n), key: new Uint8Array(256).fill(n), dcId: 2, createdAt: Date.now() });

  const call = async (key: number, method: TlObject): Promise<DcAnswer | undefined> => {
    const reply = await rpc.handle({
      dcId: 2,
      authKeyId: keyFor(key),
      sessionId: '0123456789abcdef',
      msgId: Long.fromNumber(++msgId * 4),
      layer: 227,
      method,
      withoutUpdates: false,
    });
    if ('error' in reply) return undefined;
    if (reply.result instanceof Uint8Array) throw new Error(`${method._} answered with ready-made bytes`);
    answers.push({ method: method._, answer: reply.result });
    return reply.result;
  };
  const apiCreds = { apiId: 1, apiHash: 'hash', settings: { _: 'codeSettings' } };

  // Key 1: a new test number signs in by code (the account is created), then uses everything.
  const phone = '+9996621234';
  const sent = (await call(1, { _: 'auth.sendCode', phoneNumber: phone, ...apiCreds })) as TlObject;
  await call(1, { _: 'auth.signIn', phoneNumber: phone, phoneCodeHash: sent.phoneCodeHash, phoneCode: controls.lastCode(phone) });
  const other = controls.createUser({ phone: '+15550001234', firstName: 'Other', lastName: 'User', username: 'other_user' });
  const peer = { _: 'inputPeerSelf' };
  await call(1, { _: 'help.getConfig' });
  await call(1, { _: 'help.getNearestDc' });
  await call(1, { _: 'users.getUsers', id: [{ _: 'inputUserSelf' }] });
  await call(1, { _: 'users.getFullUser', id: { _: 'inputUserSelf' } });
  await call(1, { _: 'updates.getState' });
  await call(1, { _: 'messages.sendMessage', peer, message: 'hello', randomId: Long.fromNumber(7) });
  await call(1, { _: 'messages.sendMessage', peer, message: 'second', randomId: Long.fromNumber(9) });
  const otherPeer = { _: 'inputPeerUser', userId: other.id, accessHash: Long.ZERO };
  await call(1, { _: 'messages.sendMessage', peer: otherPeer, message: 'to other', randomId: Long.fromNumber(8) });
  await call(1, { _: 'updates.getDifference', pts: 0, date: 0, qts: 0 });
  await call(1, { _: 'updates.getDifference', pts: 1000, date: 0, qts: 0 });
  await call(1, { _: 'messages.getHistory', peer, offsetId: 0, offsetDate: 0, addOffset: 0, limit: 10, maxId: 0, minId: 0, hash: Long.ZERO });
  await call(1, { _: 'messages.getHistory', peer, offsetId: 0, offsetDate: 0, addOffset: 0, limit: 1, maxId: 0, minId: 0, hash: Long.ZERO });
  await call(1, { _: 'messages.getMessages', id: [{ _: 'inputMessageID', id: 1 }, { _: 'inputMessageID', id: 999 }] });
  await call(1, { _: 'messages.getDialogs', offsetDate: 0, offsetId: 0, offsetPeer: { _: 'inputPeerEmpty' }, limit: 10, hash: Long.ZERO });
  await call(1, { _: 'messages.getDialogs', offsetDate: 0, offsetId: 0, offsetPeer: { _: 'inputPeerEmpty' }, limit: 1, hash: Long.ZERO });
  await call(1, { _: 'messages.getPinnedDialogs', folderId: 0 });
  await call(1, { _: 'contacts.resolveUsername', username: 'other_user' });
  await call(1, { _: 'contacts.resolvePhone', phone: other.phone });
  await call(1, { _: 'account.getPassword' });
  await call(1, { _: 'account.getAuthorizations' });
  await call(1, { _: 'account.updateStatus', offline: false });
  await call(1, { _: 'auth.exportAuthorization', dcId: 1 });
  await call(1, { _: 'auth.resetAuthorizations' });

  // Key 2: a registered 2FA account (code "in the app"), up to the password parameters.
  controls.createUser({ phone: '+15550005678', password: 'pw', firstName: 'Two' });
  const sent2 = (await call(2, { _: 'auth.sendCode', phoneNumber: '+15550005678', ...apiCreds })) as TlObject;
  await call(2, { _: 'auth.signIn', phoneNumber: '+15550005678', phoneCodeHash: sent2.phoneCodeHash, phoneCode: controls.lastCode('+15550005678') });
  await call(2, { _: 'account.getPassword' });

  // Key 3: a new number signs up.
  const sent3 = (await call(3, { _: 'auth.sendCode', phoneNumber: '+15550009999', ...apiCreds })) as TlObject;
  await call(3, { _: 'auth.signIn', phoneNumber: '+15550009999', phoneCodeHash: sent3.phoneCodeHash, phoneCode: controls.lastCode('+15550009999') });
  await call(3, { _: 'auth.signUp', phoneNumber: '+15550009999', phoneCodeHash: sent3.phoneCodeHash, firstName: 'New', lastName: '' });
  await call(3, { _: 'auth.logOut' });

  await state.close();
  return answers;
}

/** Every constructor name inside an answer (nested ones included). */
export function constructorNames(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) constructorNames(v, into);
  else if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && !Long.isLong(value)) {
    const obj = value as Record<string, unknown>;
    if (typeof obj._ === 'string') into.add(obj._);
    for (const v of Object.values(obj)) constructorNames(v, into);
  }
  return into;
}

/** The constructor names the DC's answer-producing code spells out (`_: 'name'` in src/rpc, src/state, src/controls). */
export function constructorNamesInSource(): Set<string> {
  const names = new Set<string>();
  for (const folder of ['rpc', 'state', 'controls']) {
    const dir = join(import.meta.dirname, '../../src', folder);
    for (const file of readdirSync(dir)) {
      if (!file.endsWith('.ts')) continue;
      const text = readFileSync(join(dir, file), 'utf8');
      for (const m of text.matchAll(/_: '([a-zA-Z][\w.]*)'/g)) names.add(m[1]!);
      for (const m of text.matchAll(/'((?:securePassword|passwordKdf)[A-Za-z0-9]+)'/g)) names.add(m[1]!);
    }
  }
  return names;
}
