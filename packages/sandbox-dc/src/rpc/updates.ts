/** updates.* — the pts state of a user's message box and what changed since a given pts. */
import type { tl } from '@mtcute/core';
import { MAX_PAGE } from '../state/messages.js';
import type { MethodTable, RpcContext } from './context.js';
import { messageToTl, usersToTl } from './tl-objects.js';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

function stateOf(ctx: RpcContext, userId: number, pts = ctx.state.messages.pts(userId)): tl.updates.RawState {
  return { _: 'updates.state', pts, qts: 0, date: nowSeconds(), seq: 0, unreadCount: 0 };
}

export const updatesMethods: MethodTable = {
  'updates.getState': {
    access: 'user',
    handle(ctx) {
      return stateOf(ctx, ctx.self.id);
    },
  },

  'updates.getDifference': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      const fresh = ctx.state.messages.since(self.id, req.pts, MAX_PAGE);
      if (fresh.length === 0) return { _: 'updates.differenceEmpty', date: nowSeconds(), seq: 0 };
      const users = usersToTl(ctx, [self.id, ...fresh.flatMap((m) => [m.fromId, m.peerId])], self.id);
      const lastPts = fresh[fresh.length - 1]!.pts;
      const common = {
        newMessages: fresh.map(messageToTl),
        newEncryptedMessages: [],
        otherUpdates: [],
        chats: [],
        users,
      };
      if (lastPts < ctx.state.messages.pts(self.id)) {
        return { _: 'updates.differenceSlice', ...common, intermediateState: stateOf(ctx, self.id, lastPts) };
      }
      return { _: 'updates.difference', ...common, state: stateOf(ctx, self.id, lastPts) };
    },
  },
};
