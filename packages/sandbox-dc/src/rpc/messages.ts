/**
 * messages.* — private messages between the DC's accounts and to Saved Messages: send, edit, delete,
 * read, history, dialogs. Every change is answered as Telegram answers it and pushed to the other
 * sessions concerned (update-feed.ts).
 */
import type { tl } from '@mtcute/core';
import type { Account } from '../state/accounts.js';
import { MAX_PAGE, type StoredMessage } from '../state/messages.js';
import type { MethodTable, RpcContext } from './context.js';
import { badRequest } from './errors.js';
import { updatesState } from './updates.js';
import { defaultNotifySettings, messageToTl, messageUserIds, peerUser, resolveInputPeer, usersToTl } from './tl-objects.js';

const MAX_MESSAGE_LENGTH = 4096;
/** Ids one messages.deleteMessages may name (Telegram's limit). */
const MAX_DELETE_IDS = 100;

/** The text of a message to send or an edit: MESSAGE_EMPTY / MESSAGE_TOO_LONG as Telegram answers. */
function messageText(input: string | undefined): string {
  const text = input ?? '';
  if (text.trim().length === 0) throw badRequest('MESSAGE_EMPTY');
  if (text.length > MAX_MESSAGE_LENGTH) throw badRequest('MESSAGE_TOO_LONG');
  return text;
}

/** The dialog peer of a request: a private chat the sender can write to. */
function writablePeer(ctx: RpcContext, input: tl.TypeInputPeer): Account {
  const peer = resolveInputPeer(ctx, input);
  if (peer.deactivated) throw badRequest('USER_DEACTIVATED'); // cannot write to a deleted account
  return peer;
}

/** messages.messages, or messages.messagesSlice when the page is not the whole dialog. */
function messagesAnswer(ctx: RpcContext, selfId: number, page: StoredMessage[], count: number): tl.messages.TypeMessages {
  const users = usersToTl(ctx.state.accounts, messageUserIds(selfId, page), selfId);
  const messages = page.map(messageToTl);
  if (count > page.length) return { _: 'messages.messagesSlice', count, messages, chats: [], users, topics: [] };
  return { _: 'messages.messages', messages, chats: [], users, topics: [] };
}

export const messagesMethods: MethodTable = {
  'messages.sendMessage': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      const peer = writablePeer(ctx, req.peer);
      const text = messageText(req.message);
      const { sent } = ctx.feed.sendMessage(self.id, peer.id, text, ctx.origin);
      if (peer.id !== self.id) {
        // A text message to another user is answered in short, as Telegram does; the client knows the rest.
        return { _: 'updateShortSentMessage', out: true, id: sent.id, pts: sent.pts, ptsCount: 1, date: sent.date };
      }
      // Saved Messages get the full updates (clients cannot name a peer from inputPeerSelf alone).
      return {
        _: 'updates',
        updates: [
          { _: 'updateMessageID', id: sent.id, randomId: req.randomId },
          { _: 'updateNewMessage', message: messageToTl(sent), pts: sent.pts, ptsCount: 1 },
        ],
        users: usersToTl(ctx.state.accounts, [self.id], self.id),
        chats: [],
        date: sent.date,
        seq: 0,
      };
    },
  },

  'messages.editMessage': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      const peer = resolveInputPeer(ctx, req.peer);
      if (req.media || req.replyMarkup || req.scheduleDate) throw badRequest('MEDIA_EDIT_NOT_SUPPORTED_IN_SANDBOX');
      const edited = ctx.feed.editMessage(self.id, peer.id, req.id, messageText(req.message), ctx.origin);
      if (!edited.ok) throw badRequest(edited.error);
      return ctx.feed.editUpdates(edited.changes[0]!);
    },
  },

  'messages.deleteMessages': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      const ids = req.id ?? [];
      if (ids.length > MAX_DELETE_IDS) throw badRequest('MESSAGE_IDS_TOO_MANY');
      const deleted = ctx.feed.deleteMessages(self.id, ids, req.revoke === true, ctx.origin);
      if (!deleted || deleted.event.kind !== 'delete') return { _: 'messages.affectedMessages', pts: ctx.state.messages.pts(self.id), ptsCount: 0 };
      return { _: 'messages.affectedMessages', pts: deleted.event.pts, ptsCount: deleted.event.ptsCount };
    },
  },

  'messages.readHistory': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      const peer = resolveInputPeer(ctx, req.peer);
      const read = ctx.feed.readHistory(self.id, peer.id, req.maxId, ctx.origin);
      if (!read) return { _: 'messages.affectedMessages', pts: ctx.state.messages.pts(self.id), ptsCount: 0 };
      return { _: 'messages.affectedMessages', pts: read.event.pts, ptsCount: 1 };
    },
  },

  'messages.getHistory': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      const peer = resolveInputPeer(ctx, req.peer);
      const { page, count } = ctx.state.messages.history(self.id, peer.id, {
        offsetId: req.offsetId,
        offsetDate: req.offsetDate,
        addOffset: req.addOffset,
        limit: req.limit,
        maxId: req.maxId,
        minId: req.minId,
      });
      return messagesAnswer(ctx, self.id, page, count);
    },
  },

  'messages.getMessages': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      const ids = (req.id ?? []).map((input) => (input._ === 'inputMessageID' ? input.id : 0));
      const found = ctx.state.messages.byIds(self.id, ids);
      const users = usersToTl(ctx.state.accounts, messageUserIds(self.id, found.filter((m) => m !== undefined)), self.id);
      const messages: tl.TypeMessage[] = found.map((m, i) => (m ? messageToTl(m) : { _: 'messageEmpty', id: ids[i] ?? 0 }));
      return { _: 'messages.messages', messages, chats: [], users, topics: [] };
    },
  },

  'messages.getDialogs': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      // The sandbox has no archive: folder 1 is empty.
      const all = req.folderId === 1 ? [] : ctx.state.messages.dialogs(self.id);
      const after = all.filter((d) => {
        if (req.offsetId > 0) return d.top.id < req.offsetId;
        if (req.offsetDate > 0) return d.top.date < req.offsetDate;
        return true;
      });
      const limit = Math.max(1, Math.min(req.limit > 0 ? req.limit : MAX_PAGE, MAX_PAGE));
      const page = after.slice(0, limit);
      const dialogs: tl.RawDialog[] = page.map((d) => ({
        _: 'dialog',
        peer: peerUser(d.peerId),
        topMessage: d.top.id,
        readInboxMaxId: d.readInboxMaxId,
        readOutboxMaxId: d.readOutboxMaxId,
        unreadCount: d.unreadCount,
        unreadMentionsCount: 0,
        unreadReactionsCount: 0,
        unreadPollVotesCount: 0,
        notifySettings: defaultNotifySettings(),
      }));
      const messages = page.map((d) => messageToTl(d.top));
      const users = usersToTl(ctx.state.accounts, [self.id, ...page.map((d) => d.peerId)], self.id);
      if (page.length < all.length) return { _: 'messages.dialogsSlice', count: all.length, dialogs, messages, chats: [], users };
      return { _: 'messages.dialogs', dialogs, messages, chats: [], users };
    },
  },

  'messages.getPinnedDialogs': {
    access: 'user',
    handle(ctx) {
      const self = ctx.self;
      return {
        _: 'messages.peerDialogs',
        dialogs: [],
        messages: [],
        chats: [],
        users: [],
        state: updatesState(ctx, self.id),
      };
    },
  },
};
