/** account.* — the 2FA password parameters and the list of the user's authorizations. */
import type { tl } from '@mtcute/core';
import Long from 'long';
import { randomBytes } from 'node:crypto';
import { newSrpAlgoSalts, startSrp } from '../crypto/srp.js';
import type { Account } from '../state/accounts.js';
import type { AuthKeyEntry } from '../state/auth-keys.js';
import type { MethodTable, RpcContext } from './context.js';
import { badRequest } from './errors.js';

/** The 2048-bit prime and generator new passwords would use (taken from the account's own algo when it has one). */
function passwordAlgo(account: Account | undefined): tl.RawPasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow | undefined {
  const srp = account?.password?.srp;
  if (!srp) return undefined;
  return {
    _: 'passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow',
    salt1: srp.salt1,
    salt2: srp.salt2,
    g: srp.g,
    p: srp.p,
  };
}

/** The user whose password is asked for: the pending 2FA login on this key, else the logged-in user. */
function passwordOwner(ctx: RpcContext): Account {
  const pendingUserId = ctx.state.passwordLogins.get(ctx.authKeyId);
  const pending = pendingUserId !== undefined ? ctx.state.accounts.byId(pendingUserId) : undefined;
  return pending ?? ctx.self;
}

/** An authorization's `hash` as account.getAuthorizations shows it (derived from the auth key id). */
export function authorizationHash(authKeyId: string): Long {
  return Long.fromString(authKeyId, true, 16).toSigned();
}

export function authorizationToTl(entry: AuthKeyEntry, current: boolean): tl.RawAuthorization {
  const client = entry.record.client;
  const created = Math.floor((entry.authorization?.authorizedAt ?? entry.record.createdAt) / 1000);
  return {
    _: 'authorization',
    current: current || undefined,
    hash: current ? Long.ZERO : authorizationHash(entry.record.id),
    deviceModel: client?.deviceModel ?? 'unknown',
    platform: '',
    systemVersion: client?.systemVersion ?? '',
    apiId: client?.apiId ?? 0,
    appName: 'sandbox client',
    appVersion: client?.appVersion ?? '',
    dateCreated: created,
    dateActive: created,
    ip: '127.0.0.1',
    country: 'Sandbox',
    region: '',
  };
}

export const accountMethods: MethodTable = {
  'account.getPassword': {
    access: 'public',
    handle(ctx) {
      const account = passwordOwner(ctx);
      const extras = {
        newSecureAlgo: { _: 'securePasswordKdfAlgoPBKDF2HMACSHA512iter100000' as const, salt: new Uint8Array(randomBytes(8)) },
        secureRandom: new Uint8Array(randomBytes(32)),
      };
      const algo = passwordAlgo(account);
      if (!account.password || !algo) {
        // Setting a first password is not supported by the sandbox; create users with one instead.
        return { _: 'account.password', hasPassword: false, newAlgo: { _: 'passwordKdfAlgoUnknown' }, ...extras };
      }
      const exchange = startSrp(account.password.srp);
      ctx.state.srpSessions.set(ctx.authKeyId, { userId: account.id, srpId: exchange.srpId, b: exchange.b, B: exchange.B });
      return {
        _: 'account.password',
        ...extras,
        newAlgo: { ...algo, ...newSrpAlgoSalts() },
        hasPassword: true,
        currentAlgo: algo,
        srpB: exchange.B,
        srpId: exchange.srpId,
        hint: account.password.hint,
      };
    },
  },

  'account.getAuthorizations': {
    access: 'user',
    handle(ctx) {
      const self = ctx.self;
      const entries = ctx.state.keys.keysOfUser(self.id).filter((e) => !e.authorization?.sessionRevoked);
      return {
        _: 'account.authorizations',
        authorizationTtlDays: 365,
        authorizations: entries.map((e) => authorizationToTl(e, e.record.id === ctx.authKeyId)),
      };
    },
  },

  'account.resetAuthorization': {
    access: 'user',
    handle(ctx, req) {
      const self = ctx.self;
      if (req.hash.isZero()) throw badRequest('HASH_INVALID');
      const target = ctx.state.keys
        .keysOfUser(self.id)
        .find((e) => e.record.id !== ctx.authKeyId && authorizationHash(e.record.id).eq(req.hash));
      if (!target || target.authorization?.sessionRevoked) throw badRequest('HASH_INVALID');
      ctx.state.keys.revokeSession(target.record.id);
      return true;
    },
  },

  'account.updateStatus': {
    access: 'user',
    handle() {
      return true;
    },
  },
};
