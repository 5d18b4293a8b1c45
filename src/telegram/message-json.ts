/**
 * Telegram's TL objects → the service's JSON (src/events/types.ts): one message shape for history, sends and
 * events, and the events an update becomes. Only updates about messages become events; others (typing,
 * statuses, …) are not journaled.
 */
import type { tl } from '@mtcute/core';
import type { MessageJson, NewEvent } from '../events/types.js';
import { getMarkedPeerId } from './peer-ids.js';

export function messageJson(message: tl.RawMessage | tl.RawMessageService, selfId: number): MessageJson {
  const peer = getMarkedPeerId(message.peerId);
  const out = message.out === true;
  // Telegram leaves from_id out of incoming private messages: the sender is the chat's other user.
  const from = message.fromId ? getMarkedPeerId(message.fromId) : out ? selfId : message.peerId._ === 'peerUser' ? peer : null;
  const replyTo = message.replyTo?._ === 'messageReplyHeader' ? (message.replyTo.replyToMsgId ?? null) : null;
  return {
    id: message.id,
    peer,
    from,
    date: new Date(message.date * 1000).toISOString(),
    text: message._ === 'message' ? message.message : '',
    replyTo,
    out,
  };
}

/** The event one update becomes, or undefined when it is not about messages. */
export function updateToEvent(update: tl.TypeUpdate, selfId: number): NewEvent | undefined {
  switch (update._) {
    case 'updateNewMessage':
    case 'updateNewChannelMessage': {
      if (update.message._ === 'messageEmpty') return undefined;
      const message = messageJson(update.message, selfId);
      return { type: 'message.new', key: `n:${message.peer}:${message.id}`, data: { message } };
    }
    case 'updateEditMessage':
    case 'updateEditChannelMessage': {
      if (update.message._ === 'messageEmpty') return undefined;
      const message = messageJson(update.message, selfId);
      const version = update.message._ === 'message' ? (update.message.editDate ?? update.pts) : update.pts;
      return { type: 'message.edit', key: `e:${message.peer}:${message.id}:${version}`, data: { message } };
    }
    case 'updateDeleteMessages':
      // Private chats and groups share one box: Telegram does not say which chat the ids were in.
      return { type: 'message.delete', key: `d:${update.pts}`, data: { peer: null, messageIds: [...update.messages] } };
    case 'updateDeleteChannelMessages': {
      const peer = getMarkedPeerId(update.channelId, 'channel');
      return { type: 'message.delete', key: `d:${peer}:${update.pts}`, data: { peer, messageIds: [...update.messages] } };
    }
    case 'updateReadHistoryInbox':
    case 'updateReadHistoryOutbox': {
      const peer = getMarkedPeerId(update.peer);
      const direction = update._ === 'updateReadHistoryInbox' ? 'inbox' : 'outbox';
      return { type: 'message.read', key: `r:${direction}:${peer}:${update.maxId}`, data: { peer, maxId: update.maxId, direction } };
    }
    case 'updateReadChannelInbox':
    case 'updateReadChannelOutbox': {
      const peer = getMarkedPeerId(update.channelId, 'channel');
      const direction = update._ === 'updateReadChannelInbox' ? 'inbox' : 'outbox';
      return { type: 'message.read', key: `r:${direction}:${peer}:${update.maxId}`, data: { peer, maxId: update.maxId, direction } };
    }
    default:
      return undefined;
  }
}

/** The event of a gap Telegram will not fill (differenceTooLong): a client should re-read its chats' history. */
export function gapEvent(detail: string, at: number): NewEvent {
  return { type: 'updates.gap', key: `g:${at}:${detail}`, data: { detail } };
}
