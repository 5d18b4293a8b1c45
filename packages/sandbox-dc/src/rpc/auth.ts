/** auth.* — login by code, 2FA, sign-up, log-out and moving an authorization to another DC. */
import type { tl } from '@mtcute/core';
import Long from 'long';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { checkSrp } from '../crypto/srp.js';
import { CODE_LENGTH, testNumberDigit } from '../state/login-codes.js';
import type { MethodTable, RpcContext } from './context.js';
import { badRequest, unauthorized } from './errors.js';
import { checkApiCredentials, completeLogin, ensureHomeDc, requirePassword, requirePhone } from './login.js';

/** How long a token from auth.exportAuthorization stays redeemable. */
const EXPORT_LIFETIME_MS = 5 * 60_000;

function sentCode(phoneCodeHash: string, registered: boolean): tl.auth.RawSentCode {
  return {
    _: 'auth.sentCode',
    // Registered numbers get the code "in the app", new ones "by SMS" — as Telegram does.
    type: registered ? { _: 'auth.sentCodeTypeApp', length: CODE_LENGTH } : { _: 'auth.sentCodeTypeSms', length: CODE_LENGTH },
    phoneCodeHash,
  };
}

/** The code this key was sent for this phone and hash (auth.resendCode, cancelCode, signUp); 400 when there is none. */
function pendingCodeOf(ctx: RpcContext, req: { phoneNumber: string; phoneCodeHash: string }) {
  const phone = requirePhone(req.phoneNumber);
  const found = ctx.state.codes.find(phone, req.phoneCodeHash, ctx.authKeyId);
  if (!found.ok) throw badRequest(found.error);
  return { phone, pending: found.pending };
}

/** Clears any half-finished login on this key (a new sendCode starts over). */
function resetPendingLogin(ctx: RpcContext): void {
  ctx.state.passwordLogins.delete(ctx.authKeyId);
  ctx.state.srpSessions.delete(ctx.authKeyId);
}

export const authMethods: MethodTable = {
  'auth.sendCode': {
    access: 'public',
    async handle(ctx, req) {
      const phone = requirePhone(req.phoneNumber);
      checkApiCredentials(req.apiId, req.apiHash);
      const account = ctx.state.accounts.byPhone(phone);
      ensureHomeDc(ctx, phone, account);
      if (account?.deactivated) throw badRequest('PHONE_NUMBER_BANNED');
      resetPendingLogin(ctx);
      // A future auth token this account got at an earlier login or logout skips the code. Accounts
      // with a 2FA password take the normal path (the token would only skip the code, not the password).
      if (account && !account.password && ctx.state.futureAuthTokens.redeem(req.settings?.logoutTokens, account.id)) {
        ctx.env.log?.('info', 'logged in by a future auth token', { dcId: ctx.dcId, authKeyId: ctx.authKeyId });
        return { _: 'auth.sentCodeSuccess', authorization: await completeLogin(ctx, account) };
      }
      const pending = ctx.state.codes.issue(phone, ctx.authKeyId, ctx.dcId);
      ctx.env.log?.('info', 'login code issued', { dcId: ctx.dcId, authKeyId: ctx.authKeyId });
      await ctx.state.flush(); // a client restarting right after this may still sign in with the hash
      return sentCode(pending.phoneCodeHash, account !== undefined);
    },
  },

  'auth.resendCode': {
    access: 'public',
    async handle(ctx, req) {
      const { phone, pending: sent } = pendingCodeOf(ctx, req);
      const pending = ctx.state.codes.reissue(sent);
      await ctx.state.flush();
      return sentCode(pending.phoneCodeHash, ctx.state.accounts.byPhone(phone) !== undefined);
    },
  },

  'auth.cancelCode': {
    access: 'public',
    handle(ctx, req) {
      pendingCodeOf(ctx, req);
      ctx.state.codes.consume(req.phoneCodeHash);
      return true;
    },
  },

  'auth.signIn': {
    access: 'public',
    async handle(ctx, req) {
      const phone = requirePhone(req.phoneNumber);
      const checked = ctx.state.codes.check(phone, req.phoneCodeHash, req.phoneCode ?? '', ctx.authKeyId);
      if (!checked.ok) throw badRequest(checked.error);
      let account = ctx.state.accounts.byPhone(phone);
      ensureHomeDc(ctx, phone, account);
      if (!account) {
        if (testNumberDigit(phone) === undefined) {
          checked.pending.verified = true; // auth.signUp may use this hash now
          throw badRequest('PHONE_NUMBER_UNOCCUPIED');
        }
        account = ctx.state.accounts.create({ phone, homeDc: ctx.dcId });
      }
      if (account.deactivated) throw badRequest('PHONE_NUMBER_BANNED');
      ctx.state.codes.consume(req.phoneCodeHash);
      if (account.password) return requirePassword(ctx, account);
      return completeLogin(ctx, account);
    },
  },

  'auth.signUp': {
    access: 'public',
    async handle(ctx, req) {
      const { phone, pending } = pendingCodeOf(ctx, req);
      if (!pending.verified) throw badRequest('PHONE_CODE_INVALID');
      if (ctx.state.accounts.byPhone(phone)) throw badRequest('PHONE_NUMBER_OCCUPIED');
      const firstName = (req.firstName ?? '').trim();
      if (!firstName || firstName.length > 64) throw badRequest('FIRSTNAME_INVALID');
      if ((req.lastName ?? '').length > 64) throw badRequest('LASTNAME_INVALID');
      ensureHomeDc(ctx, phone, undefined);
      const account = ctx.state.accounts.create({ phone, firstName, lastName: req.lastName, homeDc: ctx.dcId });
      ctx.state.codes.consume(req.phoneCodeHash);
      return completeLogin(ctx, account);
    },
  },

  'auth.checkPassword': {
    access: 'public',
    async handle(ctx, req) {
      const userId = ctx.state.passwordLogins.get(ctx.authKeyId);
      if (userId === undefined) {
        void ctx.self; // logged in or not: without a pending 2FA login there is nothing to check
        throw badRequest('PASSWORD_HASH_INVALID');
      }
      const account = ctx.state.accounts.byId(userId);
      if (!account?.password) throw unauthorized('AUTH_KEY_UNREGISTERED');
      if (req.password._ !== 'inputCheckPasswordSRP') throw badRequest('PASSWORD_HASH_INVALID');
      const srp = ctx.state.srpSessions.get(ctx.authKeyId);
      if (!srp || srp.userId !== userId || !srp.srpId.eq(req.password.srpId)) throw badRequest('SRP_ID_INVALID');
      ctx.state.srpSessions.delete(ctx.authKeyId); // one try per account.getPassword, as on Telegram
      let ok = false;
      try {
        ok = checkSrp(account.password.srp, { b: srp.b, B: srp.B }, req.password.A, req.password.M1);
      } catch {
        ok = false; // malformed A / M1
      }
      if (!ok) throw badRequest('PASSWORD_HASH_INVALID');
      return completeLogin(ctx, account);
    },
  },

  'auth.logOut': {
    access: 'public',
    async handle(ctx) {
      const hadPending = ctx.state.passwordLogins.delete(ctx.authKeyId);
      ctx.state.srpSessions.delete(ctx.authKeyId);
      const authorization = ctx.keyEntry?.authorization;
      // A terminated (SESSION_REVOKED) key may still log out: clients do that before logging in again.
      const wasBound = ctx.state.keys.unbind(ctx.authKeyId);
      if (!wasBound && !hadPending) throw unauthorized('AUTH_KEY_UNREGISTERED');
      ctx.env.log?.('info', 'auth key logged out', { dcId: ctx.dcId, authKeyId: ctx.authKeyId });
      // A clean logout earns a future auth token (not a session terminated from elsewhere, nor a deleted account).
      const user = authorization && !authorization.sessionRevoked ? ctx.state.accounts.byId(authorization.userId) : undefined;
      if (!user || user.deactivated) return { _: 'auth.loggedOut' };
      const futureAuthToken = ctx.state.futureAuthTokens.issue(user.id);
      await ctx.state.flush();
      return { _: 'auth.loggedOut', futureAuthToken };
    },
  },

  'auth.resetAuthorizations': {
    access: 'user',
    handle(ctx) {
      const self = ctx.self;
      for (const entry of ctx.state.keys.keysOfUser(self.id)) {
        if (entry.record.id !== ctx.authKeyId) ctx.state.keys.revokeSession(entry.record.id);
      }
      return true;
    },
  },

  'auth.exportAuthorization': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      if (!ctx.env.dcs().some((dc) => dc.id === req.dcId)) throw badRequest('DC_ID_INVALID');
      const now = Date.now();
      for (const [k, e] of ctx.state.exportedAuthorizations) if (e.expiresAt <= now) ctx.state.exportedAuthorizations.delete(k);
      const bytes = new Uint8Array(randomBytes(32));
      ctx.state.exportedAuthorizations.set(Buffer.from(bytes).toString('hex'), {
        userId: self.id,
        dcId: req.dcId,
        bytes,
        expiresAt: now + EXPORT_LIFETIME_MS,
      });
      return { _: 'auth.exportedAuthorization', id: Long.fromNumber(self.id), bytes };
    },
  },

  'auth.importAuthorization': {
    access: 'public',
    async handle(ctx, req) {
      const key = Buffer.from(req.bytes ?? new Uint8Array()).toString('hex');
      const exported = ctx.state.exportedAuthorizations.get(key);
      const valid =
        exported !== undefined &&
        req.id.eq(Long.fromNumber(exported.userId)) &&
        exported.dcId === ctx.dcId &&
        exported.expiresAt > Date.now() &&
        timingSafeEqual(exported.bytes, req.bytes);
      if (!valid) throw badRequest('AUTH_BYTES_INVALID');
      ctx.state.exportedAuthorizations.delete(key);
      const account = ctx.state.accounts.byId(exported.userId);
      if (!account) throw badRequest('AUTH_BYTES_INVALID');
      if (account.deactivated) throw unauthorized('USER_DEACTIVATED');
      return completeLogin(ctx, account);
    },
  },
};
