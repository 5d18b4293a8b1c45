/**
 * Login via QR code (core.telegram.org/api/qr-login):
 *
 *   new app:   auth.exportLoginToken → auth.loginToken{expires, token}   (shown as tg://login?token=…; re-export on expiry)
 *   phone:     auth.acceptLoginToken{token} (or the controls' acceptLoginToken) → the new authorization
 *   new app:   ← updateShort{updateLoginToken}; auth.exportLoginToken again →
 *                auth.loginTokenSuccess{authorization}, or
 *                auth.loginTokenMigrateTo{dc_id, token} when the user lives on the other DC, then
 *                auth.importLoginToken{token} there → auth.loginTokenSuccess
 *              with 2FA, export/import answer 401 SESSION_PASSWORD_NEEDED; then account.getPassword / auth.checkPassword.
 */
import type { tl } from '@mtcute/core';
import Long from 'long';
import type { Account } from '../state/accounts.js';
import type { AuthKeyEntry } from '../state/auth-keys.js';
import type { LoginTokenRecord, TokenLookup } from '../state/login-tokens.js';
import type { SandboxState } from '../state/sandbox-state.js';
import { authorizationToTl } from './account.js';
import type { MethodTable, RpcContext } from './context.js';
import { badRequest, unauthorized } from './errors.js';
import { checkApiCredentials, completeLogin, requirePassword } from './login.js';
import type { UpdateFeed } from './update-feed.js';

const MAX_EXCEPT_IDS = 100;

/** Logs the calling key in through a QR token: success, or SESSION_PASSWORD_NEEDED for 2FA accounts. */
async function loginByToken(ctx: RpcContext, account: Account): Promise<tl.auth.RawLoginTokenSuccess> {
  if (account.deactivated) throw unauthorized('USER_DEACTIVATED');
  if (account.password) return requirePassword(ctx, account);
  return { _: 'auth.loginTokenSuccess', authorization: await completeLogin(ctx, account) };
}

/** The exporting key comes back after its token was accepted. */
async function finishAccepted(ctx: RpcContext, record: LoginTokenRecord): Promise<tl.auth.TypeLoginToken> {
  ctx.state.loginTokens.consume(record);
  const account = ctx.state.accounts.byId(record.userId!);
  if (!account) throw badRequest('AUTH_TOKEN_INVALID');
  if (account.homeDc !== ctx.dcId) {
    const token = ctx.state.loginTokens.issueMigration(account.id, account.homeDc);
    await ctx.state.flush(); // the other DC may be asked at once
    return { _: 'auth.loginTokenMigrateTo', dcId: account.homeDc, token };
  }
  return loginByToken(ctx, account);
}

export type AcceptResult = { ok: true; record: LoginTokenRecord; waiting: AuthKeyEntry } | { ok: false; error: string };

/**
 * A logged-in user scans a QR token: checks it as auth.acceptLoginToken does (errors named as Telegram
 * names them), marks it accepted and pushes updateLoginToken to the waiting key.
 */
export function acceptQrToken(state: SandboxState, feed: UpdateFeed, lookup: TokenLookup, user: Account): AcceptResult {
  if (!lookup.ok) return { ok: false, error: lookup.error === 'AUTH_TOKEN_INVALID' ? 'AUTH_TOKEN_INVALIDX' : lookup.error };
  const record = lookup.record;
  if (record.kind !== 'qr' || !record.authKeyId) return { ok: false, error: 'AUTH_TOKEN_INVALIDX' };
  if (record.userId !== undefined) return { ok: false, error: 'AUTH_TOKEN_ALREADY_ACCEPTED' };
  // The app asked not to be logged in as a user it already has (except_ids).
  if (record.exceptIds.includes(String(user.id))) return { ok: false, error: 'AUTH_TOKEN_EXCEPTION' };
  const waiting = state.keys.get(record.authKeyId);
  if (!waiting) return { ok: false, error: 'AUTH_TOKEN_EXCEPTION' }; // the exporting key is gone
  state.loginTokens.accept(record, user.id);
  feed.loginTokenAccepted(record.authKeyId);
  return { ok: true, record, waiting };
}

export const qrLoginMethods: MethodTable = {
  'auth.exportLoginToken': {
    access: 'public',
    handle(ctx, req) {
      checkApiCredentials(req.apiId, req.apiHash);
      const accepted = ctx.state.loginTokens.acceptedFor(ctx.authKeyId);
      if (accepted) return finishAccepted(ctx, accepted);
      // A client has a handful of accounts; a longer list is kept short so a token's record stays small.
      const exceptIds = (req.exceptIds ?? []).slice(0, MAX_EXCEPT_IDS).map((id) => Long.fromValue(id).toString());
      const { token, expires } = ctx.state.loginTokens.export(ctx.authKeyId, ctx.dcId, exceptIds);
      return { _: 'auth.loginToken', expires, token };
    },
  },

  'auth.importLoginToken': {
    access: 'public',
    handle(ctx, req) {
      const found = ctx.state.loginTokens.find(req.token);
      if (!found.ok) throw badRequest(found.error);
      const record = found.record;
      if (record.kind === 'migrate') {
        if (record.dcId !== ctx.dcId) throw badRequest('AUTH_TOKEN_INVALID');
        ctx.state.loginTokens.consume(record);
        const account = ctx.state.accounts.byId(record.userId!);
        if (!account) throw badRequest('AUTH_TOKEN_INVALID');
        return loginByToken(ctx, account);
      }
      // The exporting key's own token: the same as exporting again.
      if (record.authKeyId !== ctx.authKeyId) throw badRequest('AUTH_TOKEN_INVALID');
      if (record.userId !== undefined) return finishAccepted(ctx, record);
      return { _: 'auth.loginToken', expires: record.expiresAt / 1000, token: req.token };
    },
  },

  'auth.acceptLoginToken': {
    access: 'user',
    handle(ctx, req) {
      const result = acceptQrToken(ctx.state, ctx.feed, ctx.state.loginTokens.find(req.token), ctx.self);
      if (!result.ok) throw badRequest(result.error);
      ctx.env.log?.('info', 'QR login token accepted', { dcId: ctx.dcId, authKeyId: ctx.authKeyId });
      return authorizationToTl(result.waiting, false);
    },
  },
};
