/** Shared login steps: routing a phone to its DC, finishing a login (binding the key). */
import type { tl } from '@mtcute/core';
import { homeDcOf, normalizePhone, type Account } from '../state/accounts.js';
import type { RpcContext } from './context.js';
import { badRequest, seeOther, unauthorized } from './errors.js';
import { userToTl } from './tl-objects.js';

export function requirePhone(input: string): string {
  const phone = normalizePhone(input ?? '');
  if (!phone) throw badRequest('PHONE_NUMBER_INVALID');
  return phone;
}

export function checkApiCredentials(apiId: number, apiHash: string): void {
  if (!Number.isInteger(apiId) || apiId <= 0 || typeof apiHash !== 'string' || apiHash.length === 0) {
    throw badRequest('API_ID_INVALID');
  }
}

/** 303 PHONE_MIGRATE_X when the phone's account lives on another DC than the one asked. */
export function ensureHomeDc(ctx: RpcContext, phone: string, account: Account | undefined): void {
  const home = homeDcOf(phone, account);
  if (home !== ctx.dcId) throw seeOther(`PHONE_MIGRATE_${home}`);
}

/**
 * Logs the calling key in as `account`; durable (the key journal is fsynced, state.json flushed) before
 * returning. The answer carries a future auth token for a later code-free login (api/auth).
 */
export async function completeLogin(ctx: RpcContext, account: Account): Promise<tl.auth.RawAuthorization> {
  const futureAuthToken = ctx.state.futureAuthTokens.issue(account.id);
  ctx.state.passwordLogins.delete(ctx.authKeyId);
  ctx.state.srpSessions.delete(ctx.authKeyId);
  ctx.state.loginTokens.forgetKey(ctx.authKeyId);
  await ctx.state.flush(); // the account (and the token) must be on disk before a key points at it
  ctx.state.keys.bind(ctx.authKeyId, account.id);
  ctx.env.log?.('info', 'auth key logged in', { dcId: ctx.dcId, authKeyId: ctx.authKeyId, userId: account.id });
  return { _: 'auth.authorization', user: userToTl(account, account.id), futureAuthToken };
}

/**
 * The login is done except for the 2FA password: the key waits for auth.checkPassword
 * (401 SESSION_PASSWORD_NEEDED, durable so it survives a DC restart).
 */
export async function requirePassword(ctx: RpcContext, account: Account): Promise<never> {
  ctx.state.passwordLogins.set(ctx.authKeyId, account.id);
  ctx.state.srpSessions.delete(ctx.authKeyId);
  await ctx.state.flush();
  throw unauthorized('SESSION_PASSWORD_NEEDED');
}
