/**
 * updates.* — the state of a user's message box and what changed since a given pts
 * (core.telegram.org/api/updates): differenceEmpty, difference, differenceSlice when more changed than
 * one answer carries, differenceTooLong when the client is too far behind (or ahead: a state the DC no
 * longer has), so it must reload its dialogs.
 */
import type { tl } from '@mtcute/core';
import type { BoxEvent, StoredMessage } from '../state/messages.js';
import type { MethodTable, RpcContext } from './context.js';
import { messageToTl, messageUserIds, peerUser, usersToTl } from './tl-objects.js';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export function updatesState(ctx: RpcContext, userId: number, pts = ctx.state.messages.pts(userId)): tl.updates.RawState {
  return { _: 'updates.state', pts, qts: 0, date: nowSeconds(), seq: 0, unreadCount: ctx.state.messages.unreadCount(userId) };
}

/**
 * A run of box events as a difference's new_messages and other_updates. New messages appear as they
 * are now (an edit inside the same run needs no update of its own); deleted ones are left out.
 */
function eventsToDifference(ctx: RpcContext, userId: number, events: BoxEvent[]): { newMessages: tl.TypeMessage[]; otherUpdates: tl.TypeUpdate[]; users: tl.TypeUser[] } {
  const messages = ctx.state.messages;
  const newIds = new Set(events.flatMap((e) => (e.kind === 'new' ? [e.messageId] : [])));
  const shown: StoredMessage[] = [];
  const otherUpdates: tl.TypeUpdate[] = [];
  const peerIds: number[] = [];
  for (const e of events) {
    switch (e.kind) {
      case 'new': {
        const m = messages.message(userId, e.messageId);
        if (m) shown.push(m);
        break;
      }
      case 'edit': {
        const m = newIds.has(e.messageId) ? undefined : messages.message(userId, e.messageId);
        if (m) {
          otherUpdates.push({ _: 'updateEditMessage', message: messageToTl(m), pts: e.pts, ptsCount: 1 });
          shown.push(m);
        }
        break;
      }
      case 'delete':
        otherUpdates.push({ _: 'updateDeleteMessages', messages: e.messageIds, pts: e.pts, ptsCount: e.ptsCount });
        break;
      case 'readInbox': {
        const stillUnread = messages.dialogs(userId).find((d) => d.peerId === e.peerId)?.unreadCount ?? 0;
        otherUpdates.push({ _: 'updateReadHistoryInbox', peer: peerUser(e.peerId), maxId: e.maxId, stillUnreadCount: stillUnread, pts: e.pts, ptsCount: 1 });
        peerIds.push(e.peerId);
        break;
      }
      case 'readOutbox':
        otherUpdates.push({ _: 'updateReadHistoryOutbox', peer: peerUser(e.peerId), maxId: e.maxId, pts: e.pts, ptsCount: 1 });
        peerIds.push(e.peerId);
        break;
    }
  }
  const newMessages = shown.filter((m) => newIds.has(m.id)).map(messageToTl);
  const users = usersToTl(ctx.state.accounts, [...messageUserIds(userId, shown), ...peerIds], userId);
  return { newMessages, otherUpdates, users };
}

export const updatesMethods: MethodTable = {
  'updates.getState': {
    access: 'user',
    handle(ctx) {
      return updatesState(ctx, ctx.self.id);
    },
  },

  'updates.getDifference': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      const limits = ctx.feed.limits;
      const tooLongGap = req.ptsTotalLimit !== undefined && req.ptsTotalLimit > 0 ? Math.min(req.ptsTotalLimit, limits.differenceTooLongGap) : limits.differenceTooLongGap;
      const sliceSize = req.ptsLimit !== undefined && req.ptsLimit > 0 ? Math.min(req.ptsLimit, limits.differenceSliceSize) : limits.differenceSliceSize;
      const diff = ctx.state.messages.difference(self.id, req.pts, { sliceSize, tooLongGap });
      switch (diff.kind) {
        case 'empty':
          return { _: 'updates.differenceEmpty', date: nowSeconds(), seq: 0 };
        case 'tooLong':
          return { _: 'updates.differenceTooLong', pts: diff.pts };
        case 'events': {
          const body = { ...eventsToDifference(ctx, self.id, diff.events), newEncryptedMessages: [], chats: [] };
          if (!diff.final) return { _: 'updates.differenceSlice', ...body, intermediateState: updatesState(ctx, self.id, diff.statePts) };
          return { _: 'updates.difference', ...body, state: updatesState(ctx, self.id, diff.statePts) };
        }
      }
    },
  },
};
