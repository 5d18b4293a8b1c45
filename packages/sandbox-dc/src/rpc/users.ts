/** users.* — who a user is. */
import type { tl } from '@mtcute/core';
import type { MethodTable } from './context.js';
import { RpcFault } from './errors.js';
import { defaultNotifySettings, resolveInputUser, userToTl } from './tl-objects.js';

export const usersMethods: MethodTable = {
  'users.getUsers': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      const out: tl.TypeUser[] = [];
      for (const input of req.id ?? []) {
        try {
          out.push(userToTl(resolveInputUser(ctx, input), self.id));
        } catch (e) {
          if (!(e instanceof RpcFault)) throw e; // unknown users are left out, as Telegram does
        }
      }
      return out;
    },
  },

  'users.getFullUser': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      const account = resolveInputUser(ctx, req.id);
      return {
        _: 'users.userFull',
        fullUser: {
          _: 'userFull',
          id: account.id,
          settings: { _: 'peerSettings' },
          notifySettings: defaultNotifySettings(),
          commonChatsCount: 0,
        },
        chats: [],
        users: [userToTl(account, self.id)],
      };
    },
  },
};
