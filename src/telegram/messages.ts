/**
 * The account API's Telegram side: peers, dialogs, history, sending and reading, on one mtcute client with
 * every request through `rpc` (bounded and classified by the caller). Answers are the service's JSON.
 *
 * Sent messages and read marks are journaled like the updates other devices cause (the caller's
 * `journal` callback) *before* mtcute applies their pts: mtcute saves its update state only after applying,
 * so a state on disk never covers a message the journal lacks.
 */
import { createHash } from 'node:crypto';
import type { tl } from '@mtcute/core';
import type { TelegramClient } from '@mtcute/node';
import Long from 'long';
import type { MessageJson, NewEvent } from '../events/types.js';
import { messageJson, updateToEvent } from './message-json.js';
import { getMarkedPeerId, parseMarkedPeerId } from './peer-ids.js';

/** A bounded, classified RPC call on the client the caller runs on. */
export type Rpc = <T extends tl.RpcMethod>(request: T) => Promise<tl.RpcCallReturn[T['_']]>;

/** How the API names a chat: `me`, a (marked) numeric id, or `@username`. */
export type PeerQuery = { kind: 'me' } | { kind: 'id'; id: number } | { kind: 'username'; username: string };

export class PeerNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerNotFoundError';
  }
}

const USERNAME = /^@([A-Za-z0-9_]{3,32})$/;
const NUMERIC_ID = /^-?[1-9][0-9]{0,15}$/;

/** `me`, `123`, `-100123`, `@name` → a PeerQuery; undefined for anything else. */
export function parsePeerQuery(text: string): PeerQuery | undefined {
  if (text === 'me') return { kind: 'me' };
  if (NUMERIC_ID.test(text)) {
    const id = Number(text);
    return Number.isSafeInteger(id) ? { kind: 'id', id } : undefined;
  }
  const username = USERNAME.exec(text);
  return username ? { kind: 'username', username: username[1]! } : undefined;
}

export interface ResolvedPeer {
  input: tl.TypeInputPeer;
  /** Marked id. */
  id: number;
}

/** The logged-in user's id (from mtcute's storage: known before the client ever connects). */
export async function selfIdOf(client: TelegramClient): Promise<number> {
  const self = await client.storage.self.fetch();
  if (!self) throw new Error('the client has no logged-in user');
  return self.userId;
}

/** The chat `query` names, from mtcute's peer cache or by asking Telegram; PeerNotFoundError when there is none. */
export async function resolvePeer(client: TelegramClient, rpc: Rpc, query: PeerQuery): Promise<ResolvedPeer> {
  const selfId = await selfIdOf(client);
  switch (query.kind) {
    case 'me':
      return { input: { _: 'inputPeerSelf' }, id: selfId };
    case 'username': {
      const cached = await client.storage.peers.getByUsername(query.username.toLowerCase());
      if (cached) return { input: cached, id: getMarkedPeerId(cached) };
      let resolved: tl.contacts.RawResolvedPeer;
      try {
        resolved = await rpc({ _: 'contacts.resolveUsername', username: query.username });
      } catch (err) {
        if (rpcErrorText(err) === 'USERNAME_NOT_OCCUPIED' || rpcErrorText(err) === 'USERNAME_INVALID') {
          throw new PeerNotFoundError(`No Telegram user or chat is called @${query.username}`);
        }
        throw err;
      }
      return fromResolved(resolved, query.username);
    }
    case 'id': {
      if (query.id === selfId) return { input: { _: 'inputPeerSelf' }, id: selfId };
      let cached = await client.storage.peers.getById(query.id);
      if (!cached) {
        // mtcute keeps peers in memory only: after a restart, the recent dialogs bring the access hashes back.
        await rpc({ _: 'messages.getDialogs', offsetDate: 0, offsetId: 0, offsetPeer: { _: 'inputPeerEmpty' }, limit: 100, hash: Long.ZERO });
        cached = await client.storage.peers.getById(query.id);
      }
      if (cached) return { input: cached, id: query.id };
      const [kind, bareId] = parseMarkedPeerId(query.id);
      if (kind === 'chat') return { input: { _: 'inputPeerChat', chatId: bareId }, id: query.id };
      if (kind === 'user') {
        // Telegram accepts a zero access hash for users the account has met; it leaves unknown ones out.
        const users = await rpc({ _: 'users.getUsers', id: [{ _: 'inputUser', userId: bareId, accessHash: Long.ZERO }] });
        const user = users.find((u): u is tl.RawUser => u._ === 'user' && u.id === bareId);
        if (user?.accessHash) return { input: { _: 'inputPeerUser', userId: bareId, accessHash: user.accessHash }, id: query.id };
      }
      throw new PeerNotFoundError(`No chat with the id ${query.id} is known to this account`);
    }
  }
}

function fromResolved(resolved: tl.contacts.RawResolvedPeer, username: string): ResolvedPeer {
  const peer = resolved.peer;
  if (peer._ === 'peerUser') {
    const user = resolved.users.find((u): u is tl.RawUser => u._ === 'user' && u.id === peer.userId);
    if (user?.accessHash) return { input: { _: 'inputPeerUser', userId: user.id, accessHash: user.accessHash }, id: user.id };
  } else if (peer._ === 'peerChannel') {
    const channel = resolved.chats.find((c): c is tl.RawChannel => c._ === 'channel' && c.id === peer.channelId);
    if (channel?.accessHash) return { input: { _: 'inputPeerChannel', channelId: channel.id, accessHash: channel.accessHash }, id: getMarkedPeerId(peer) };
  } else {
    return { input: { _: 'inputPeerChat', chatId: peer.chatId }, id: getMarkedPeerId(peer) };
  }
  throw new PeerNotFoundError(`@${username} cannot be reached`);
}

function rpcErrorText(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown }).cause ?? err;
  return (cause as { text?: unknown }).text as string | undefined;
}

// ───────────────────────────── dialogs and history ─────────────────────────────

export interface DialogJson {
  peer: number;
  title: string;
  username: string | null;
  unreadCount: number;
  lastMessage: MessageJson | null;
}

/** Where the next page of dialogs starts (the last dialog's top message). */
export interface DialogsCursor {
  date: number;
  id: number;
  peer: number;
}

export async function fetchDialogs(
  client: TelegramClient,
  rpc: Rpc,
  limit: number,
  cursor: DialogsCursor | undefined,
): Promise<{ dialogs: DialogJson[]; next: DialogsCursor | null }> {
  const selfId = await selfIdOf(client);
  const offsetPeer: tl.TypeInputPeer = cursor ? ((await client.storage.peers.getById(cursor.peer)) ?? { _: 'inputPeerEmpty' }) : { _: 'inputPeerEmpty' };
  const answer = await rpc({
    _: 'messages.getDialogs',
    offsetDate: cursor?.date ?? 0,
    offsetId: cursor?.id ?? 0,
    offsetPeer,
    limit,
    hash: Long.ZERO,
  });
  if (answer._ === 'messages.dialogsNotModified') return { dialogs: [], next: null };
  const messages = new Map<string, tl.TypeMessage>();
  for (const m of answer.messages) if (m._ !== 'messageEmpty') messages.set(`${getMarkedPeerId(m.peerId)}:${m.id}`, m);
  const dialogs: DialogJson[] = [];
  let last: DialogsCursor | null = null;
  for (const dialog of answer.dialogs) {
    if (dialog._ !== 'dialog') continue;
    const peer = getMarkedPeerId(dialog.peer);
    const top = messages.get(`${peer}:${dialog.topMessage}`);
    const lastMessage = top && top._ !== 'messageEmpty' ? messageJson(top, selfId) : null;
    dialogs.push({ peer, ...titleOf(dialog.peer, answer.users, answer.chats, selfId), unreadCount: dialog.unreadCount, lastMessage });
    if (top && top._ !== 'messageEmpty') last = { date: top.date, id: top.id, peer };
  }
  const more = answer._ === 'messages.dialogsSlice' && dialogs.length >= limit && last !== null;
  return { dialogs, next: more ? last : null };
}

function titleOf(peer: tl.TypePeer, users: tl.TypeUser[], chats: tl.TypeChat[], selfId: number): { title: string; username: string | null } {
  if (peer._ === 'peerUser') {
    const user = users.find((u): u is tl.RawUser => u._ === 'user' && u.id === peer.userId);
    if (peer.userId === selfId) return { title: 'Saved Messages', username: user?.username ?? null };
    const title = [user?.firstName, user?.lastName].filter(Boolean).join(' ') || (user?.deleted ? 'Deleted Account' : `User ${peer.userId}`);
    return { title, username: user?.username ?? null };
  }
  const chatId = peer._ === 'peerChat' ? peer.chatId : peer.channelId;
  const chat = chats.find((c) => c.id === chatId);
  const title = chat && 'title' in chat ? chat.title : `Chat ${chatId}`;
  const username = chat?._ === 'channel' ? (chat.username ?? null) : null;
  return { title, username };
}

/** A chat's messages, newest first, older than `before` (a message id) when given. */
export async function fetchHistory(client: TelegramClient, rpc: Rpc, peer: ResolvedPeer, limit: number, before?: number): Promise<MessageJson[]> {
  const selfId = await selfIdOf(client);
  const answer = await rpc({
    _: 'messages.getHistory',
    peer: peer.input,
    offsetId: before ?? 0,
    offsetDate: 0,
    addOffset: 0,
    limit,
    maxId: 0,
    minId: 0,
    hash: Long.ZERO,
  });
  if (answer._ === 'messages.messagesNotModified') return [];
  return answer.messages.filter((m): m is tl.RawMessage | tl.RawMessageService => m._ !== 'messageEmpty').map((m) => messageJson(m, selfId));
}

// ───────────────────────────── sending and reading ─────────────────────────────

export function textHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Sends a text message with the given random_id. `journal` gets the message's event before mtcute applies its
 * pts (see the module comment). Throws what `rpc` throws.
 */
export async function sendText(
  client: TelegramClient,
  rpc: Rpc,
  peer: ResolvedPeer,
  input: { text: string; replyTo?: number; randomId: Long },
  journal: (event: NewEvent) => void,
): Promise<MessageJson> {
  const selfId = await selfIdOf(client);
  const answer = await rpc({
    _: 'messages.sendMessage',
    peer: peer.input,
    message: input.text,
    randomId: input.randomId,
    ...(input.replyTo ? { replyTo: { _: 'inputReplyToMessage', replyToMsgId: input.replyTo } } : {}),
  });
  if (answer._ === 'updateShortSentMessage') {
    const message: tl.RawMessage = {
      _: 'message',
      id: answer.id,
      peerId: peerOf(peer, selfId),
      fromId: { _: 'peerUser', userId: selfId },
      date: answer.date,
      message: input.text,
      out: true,
      ...(input.replyTo ? { replyTo: { _: 'messageReplyHeader', replyToMsgId: input.replyTo } } : {}),
    };
    const update: tl.RawUpdateNewMessage = { _: 'updateNewMessage', message, pts: answer.pts, ptsCount: answer.ptsCount };
    journalUpdate(update, selfId, journal);
    client.handleClientUpdate({ _: 'updates', updates: [update], users: [], chats: [], date: answer.date, seq: 0 }, true);
    return messageJson(message, selfId);
  }
  if (answer._ !== 'updates' && answer._ !== 'updatesCombined') throw new Error(`unexpected answer to messages.sendMessage: ${answer._}`);
  const idUpdate = answer.updates.find((u): u is tl.RawUpdateMessageID => u._ === 'updateMessageID' && u.randomId.eq(input.randomId));
  const sent = answer.updates.find(
    (u): u is tl.RawUpdateNewMessage | tl.RawUpdateNewChannelMessage =>
      (u._ === 'updateNewMessage' || u._ === 'updateNewChannelMessage') && u.message._ !== 'messageEmpty' && (!idUpdate || u.message.id === idUpdate.id),
  );
  if (!sent || sent.message._ === 'messageEmpty') throw new Error('messages.sendMessage answered without the sent message');
  journalUpdate(sent, selfId, journal);
  client.handleClientUpdate(answer, true);
  return messageJson(sent.message, selfId);
}

/** Marks a chat read up to `maxId` (0: everything). The read mark is journaled like one made elsewhere. */
export async function readHistory(client: TelegramClient, rpc: Rpc, peer: ResolvedPeer, maxId: number, journal: (event: NewEvent) => void): Promise<void> {
  const selfId = await selfIdOf(client);
  const affected = await rpc({ _: 'messages.readHistory', peer: peer.input, maxId });
  if (affected.ptsCount === 0) return; // nothing changed (already read)
  const update: tl.RawUpdateReadHistoryInbox = {
    _: 'updateReadHistoryInbox',
    peer: peerOf(peer, selfId),
    maxId,
    stillUnreadCount: 0,
    pts: affected.pts,
    ptsCount: affected.ptsCount,
  };
  journalUpdate(update, selfId, journal);
  client.handleClientUpdate({ _: 'updates', updates: [update], users: [], chats: [], date: Math.floor(Date.now() / 1000), seq: 0 }, true);
}

function journalUpdate(update: tl.TypeUpdate, selfId: number, journal: (event: NewEvent) => void): void {
  const event = updateToEvent(update, selfId);
  if (event) journal(event);
}

/**
 * An outgoing message in `peer` with this text's hash, sent at or after `since`, not among `exclude` — the
 * message a send whose outcome was unknown became, if it reached Telegram. The oldest such is chosen.
 */
export async function findSentMessage(
  client: TelegramClient,
  rpc: Rpc,
  peer: ResolvedPeer,
  hash: string,
  since: Date,
  exclude: ReadonlySet<number>,
): Promise<MessageJson | undefined> {
  const recent = await fetchHistory(client, rpc, peer, 100);
  // Telegram's clock and ours may differ by a little; a minute of slack.
  const from = since.getTime() - 60_000;
  const candidates = recent.filter((m) => m.out && !exclude.has(m.id) && Date.parse(m.date) >= from && textHash(m.text) === hash);
  return candidates.sort((a, b) => a.id - b.id)[0];
}

function peerOf(peer: ResolvedPeer, selfId: number): tl.TypePeer {
  const input = peer.input;
  switch (input._) {
    case 'inputPeerSelf':
      return { _: 'peerUser', userId: selfId };
    case 'inputPeerUser':
    case 'inputPeerUserFromMessage':
      return { _: 'peerUser', userId: input.userId };
    case 'inputPeerChat':
      return { _: 'peerChat', chatId: input.chatId };
    case 'inputPeerChannel':
    case 'inputPeerChannelFromMessage':
      return { _: 'peerChannel', channelId: input.channelId };
    default:
      throw new Error(`cannot send to ${input._}`);
  }
}
