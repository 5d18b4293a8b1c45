/** contacts.* — only what clients need to address another account: resolving usernames and phones. */
import type { tl } from '@mtcute/core';
import type { Account } from '../state/accounts.js';
import { normalizePhone } from '../state/accounts.js';
import type { MethodTable, RpcContext } from './context.js';
import { badRequest } from './errors.js';
import { peerUser, userToTl } from './tl-objects.js';

function resolved(ctx: RpcContext, account: Account): tl.contacts.RawResolvedPeer {
  return { _: 'contacts.resolvedPeer', peer: peerUser(account.id), chats: [], users: [userToTl(account, ctx.self.id)] };
}

export const contactsMethods: MethodTable = {
  'contacts.resolveUsername': {
    access: 'user',
    handle(ctx, req) {
      const account = ctx.state.accounts.byUsername(req.username ?? '');
      if (!account || account.deactivated) throw badRequest('USERNAME_NOT_OCCUPIED');
      return resolved(ctx, account);
    },
  },

  'contacts.resolvePhone': {
    access: 'user',
    handle(ctx, req) {
      const phone = normalizePhone(req.phone ?? '');
      if (!phone) throw badRequest('PHONE_NOT_OCCUPIED');
      const account = ctx.state.accounts.byPhone(phone);
      if (!account || account.deactivated) throw badRequest('PHONE_NOT_OCCUPIED');
      return resolved(ctx, account);
    },
  },
};
