/** Builders for the TL objects answers carry (users, messages, peers), and resolvers for input peers. */
import type { tl } from '@mtcute/core';
import type { Account, AccountStore } from '../state/accounts.js';
import type { StoredMessage } from '../state/messages.js';
import type { RpcContext } from './context.js';
import { badRequest } from './errors.js';

/** A `user` as `viewer` sees it (`self` set on the viewer's own record). */
export function userToTl(account: Account, viewerId: number): tl.RawUser {
  const isSelf = account.id === viewerId;
  if (account.deactivated) {
    return { _: 'user', id: account.id, accessHash: account.accessHash, deleted: true, self: isSelf || undefined };
  }
  return {
    _: 'user',
    id: account.id,
    self: isSelf || undefined,
    contact: isSelf ? undefined : false,
    accessHash: account.accessHash,
    firstName: account.firstName,
    lastName: account.lastName,
    username: account.username,
    phone: account.phone,
    status: { _: 'userStatusRecently', byMe: false },
  };
}

export function peerUser(userId: number): tl.RawPeerUser {
  return { _: 'peerUser', userId };
}

export function messageToTl(m: StoredMessage): tl.RawMessage {
  return {
    _: 'message',
    id: m.id,
    out: m.out || undefined,
    fromId: peerUser(m.fromId),
    peerId: peerUser(m.peerId),
    date: m.date,
    message: m.text,
    editDate: m.editDate,
  };
}

/** The users a set of messages mentions (senders and dialog peers), with the viewer first. */
export function messageUserIds(viewerId: number, messages: Iterable<StoredMessage>): number[] {
  const ids = [viewerId];
  for (const m of messages) ids.push(m.fromId, m.peerId);
  return ids;
}

/** `user` objects for the given ids (unknown ids are skipped), deduplicated. */
export function usersToTl(accounts: AccountStore, ids: Iterable<number>, viewerId: number): tl.RawUser[] {
  const seen = new Set<number>();
  const out: tl.RawUser[] = [];
  for (const id of ids) {
    if (seen.has(id)) continue;
    seen.add(id);
    const account = accounts.byId(id);
    if (account) out.push(userToTl(account, viewerId));
  }
  return out;
}

/** accessHash check: the right hash, or 0 (mtcute resolves known ids with a zero hash). */
function hashMatches(account: Account, accessHash: tl.Long): boolean {
  return accessHash.isZero() || accessHash.eq(account.accessHash);
}

/** The account an InputUser names, or 400 USER_ID_INVALID. */
export function resolveInputUser(ctx: RpcContext, input: tl.TypeInputUser): Account {
  switch (input._) {
    case 'inputUserSelf':
      return ctx.self;
    case 'inputUser': {
      const account = ctx.state.accounts.byId(input.userId);
      if (account && hashMatches(account, input.accessHash)) return account;
      break;
    }
    case 'inputUserFromMessage': {
      const account = ctx.state.accounts.byId(input.userId);
      if (account) return account;
      break;
    }
  }
  throw badRequest('USER_ID_INVALID');
}

/** The user id an InputPeer names (private chats only in the sandbox), or 400 PEER_ID_INVALID. */
export function resolveInputPeer(ctx: RpcContext, input: tl.TypeInputPeer): Account {
  switch (input._) {
    case 'inputPeerSelf':
      return ctx.self;
    case 'inputPeerUser': {
      const account = ctx.state.accounts.byId(input.userId);
      if (account && hashMatches(account, input.accessHash)) return account;
      break;
    }
    case 'inputPeerUserFromMessage': {
      const account = ctx.state.accounts.byId(input.userId);
      if (account) return account;
      break;
    }
  }
  throw badRequest('PEER_ID_INVALID');
}

export function defaultNotifySettings(): tl.RawPeerNotifySettings {
  return { _: 'peerNotifySettings' };
}
