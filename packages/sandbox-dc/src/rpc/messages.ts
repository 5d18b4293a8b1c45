/** messages.* — private messages between the DC's accounts and to Saved Messages. */
import type { tl } from '@mtcute/core';
import { MAX_PAGE, type StoredMessage } from '../state/messages.js';
import type { MethodTable, RpcContext } from './context.js';
import { badRequest } from './errors.js';
import { defaultNotifySettings, messageToTl, peerUser, resolveInputPeer, usersToTl } from './tl-objects.js';

const MAX_MESSAGE_LENGTH = 4096;

/** messages.messages, or messages.messagesSlice when the page is not the whole dialog. */
function messagesAnswer(ctx: RpcContext, selfId: number, page: StoredMessage[], count: number): tl.messages.TypeMessages {
  const users = usersToTl(ctx, [selfId, ...page.flatMap((m) => [m.fromId, m.peerId])], selfId);
  const messages = page.map(messageToTl);
  if (count > page.length) return { _: 'messages.messagesSlice', count, messages, chats: [], users, topics: [] };
  return { _: 'messages.messages', messages, chats: [], users, topics: [] };
}

export const messagesMethods: MethodTable = {
  'messages.sendMessage': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      const peer = resolveInputPeer(ctx, req.peer);
      const text = req.message ?? '';
      if (text.trim().length === 0) throw badRequest('MESSAGE_EMPTY');
      if (text.length > MAX_MESSAGE_LENGTH) throw badRequest('MESSAGE_TOO_LONG');
      if (peer.deactivated) throw badRequest('USER_DEACTIVATED'); // cannot write to a deleted account
      const { sent } = ctx.state.messages.send(self.id, peer.id, text);
      return {
        _: 'updates',
        updates: [
          { _: 'updateMessageID', id: sent.id, randomId: req.randomId },
          { _: 'updateNewMessage', message: messageToTl(sent), pts: sent.pts, ptsCount: 1 },
        ],
        users: usersToTl(ctx, [self.id, peer.id], self.id),
        chats: [],
        date: sent.date,
        seq: 0,
      };
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
      const users = usersToTl(ctx, [self.id, ...found.flatMap((m) => (m ? [m.fromId, m.peerId] : []))], self.id);
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
        readInboxMaxId: 0,
        readOutboxMaxId: 0,
        unreadCount: d.unreadCount,
        unreadMentionsCount: 0,
        unreadReactionsCount: 0,
        unreadPollVotesCount: 0,
        notifySettings: defaultNotifySettings(),
      }));
      const messages = page.map((d) => messageToTl(d.top));
      const users = usersToTl(ctx, [self.id, ...page.map((d) => d.peerId)], self.id);
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
        state: { _: 'updates.state', pts: ctx.state.messages.pts(self.id), qts: 0, date: Math.floor(Date.now() / 1000), seq: 0, unreadCount: 0 },
      };
    },
  },
};
