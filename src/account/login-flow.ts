/**
 * The Telegram side of logging in, step by step, with raw calls so that everything needed to finish a
 * login (phone, phone_code_hash, DC) is returned to the caller to persist: verify-code works after a restart
 * because the auth key that asked for the code is already in session.json.
 *
 * PHONE_MIGRATE_X needs nothing here: mtcute's client switches the primary DC (stored in session.json as
 * `dc_main`), creates a key there and resends the call.
 */
import type { tl } from '@mtcute/core';
import type { PendingLogin } from '../store/types.js';
import { TelegramCallError } from '../telegram/call-error.js';
import { phoneDigits } from './phone.js';

export type Rpc = <T extends tl.RpcMethod>(request: T) => Promise<tl.RpcCallReturn[T['_']]>;

export interface LoginClient {
  rpc: Rpc;
  apiId: number;
  apiHash: string;
  primaryDcId(): Promise<number>;
  /** Tells mtcute the key is now authorized (stores the self user, resets sessions). */
  notifyLoggedIn(auth: tl.auth.TypeAuthorization): Promise<tl.RawUser>;
  computeSrpParams(password: tl.account.RawPassword, plain: string): Promise<tl.RawInputCheckPasswordSRP>;
  /** Keeps the future auth token an authorization carries (never logged). */
  keepFutureAuthToken?(token: Uint8Array, user: tl.RawUser): Promise<void>;
}

export type CodeStepResult =
  | { kind: 'code_sent'; pending: PendingLogin; tokensRefused: boolean }
  | { kind: 'authorized'; user: tl.RawUser };
export type SignInResult = { kind: 'authorized'; user: tl.RawUser } | { kind: 'password_required'; hint: string | null };

/** Thrown when Telegram wants a sign-up: this service does not create accounts. */
export class SignUpRequiredError extends Error {
  constructor() {
    super('This phone number has no Telegram account; sign up in an official app first');
    this.name = 'SignUpRequiredError';
  }
}

const CODE_TYPES: Record<string, string> = {
  'auth.sentCodeTypeApp': 'app',
  'auth.sentCodeTypeSms': 'sms',
  'auth.sentCodeTypeCall': 'call',
  'auth.sentCodeTypeFlashCall': 'flash_call',
  'auth.sentCodeTypeMissedCall': 'missed_call',
  'auth.sentCodeTypeEmailCode': 'email',
  'auth.sentCodeTypeSetUpEmailRequired': 'email_required',
  'auth.sentCodeTypeFragmentSms': 'fragment',
  'auth.sentCodeTypeFirebaseSms': 'firebase',
  'auth.sentCodeTypeSmsWord': 'sms_word',
  'auth.sentCodeTypeSmsPhrase': 'sms_phrase',
};
const NEXT_TYPES: Record<string, string> = {
  'auth.codeTypeSms': 'sms',
  'auth.codeTypeCall': 'call',
  'auth.codeTypeFlashCall': 'flash_call',
  'auth.codeTypeMissedCall': 'missed_call',
  'auth.codeTypeFragmentSms': 'fragment',
};

function codeLength(type: tl.auth.TypeSentCodeType): number | undefined {
  return 'length' in type && typeof type.length === 'number' ? type.length : undefined;
}

async function toPending(client: LoginClient, phone: string, sent: tl.auth.RawSentCode): Promise<PendingLogin> {
  return {
    phone,
    phoneCodeHash: sent.phoneCodeHash,
    dcId: await client.primaryDcId(),
    codeType: CODE_TYPES[sent.type._] ?? sent.type._,
    codeLength: codeLength(sent.type),
    nextType: sent.nextType ? NEXT_TYPES[sent.nextType._] ?? sent.nextType._ : undefined,
    timeout: sent.timeout,
    sentAt: new Date().toISOString(),
  };
}

/** A login went through at Telegram: mtcute is told, and the future auth token it carries is kept. */
export async function onAuthorization(client: LoginClient, auth: tl.auth.TypeAuthorization): Promise<tl.RawUser> {
  if (auth._ === 'auth.authorizationSignUpRequired') throw new SignUpRequiredError();
  const user = await client.notifyLoggedIn(auth);
  if (auth.futureAuthToken) await client.keepFutureAuthToken?.(auth.futureAuthToken, auth.user._ === 'user' ? auth.user : user);
  return user;
}

const digits = phoneDigits;

/**
 * auth.sendCode. `logoutTokens` (future auth tokens of this number) may log the key in at once
 * (auth.sentCodeSuccess). Telegram ignores tokens it does not honour; should it refuse the call because of
 * them, it is asked again without them — the normal code flow, no error (`tokensRefused` says so).
 */
export async function requestCode(client: LoginClient, phone: string, logoutTokens: Uint8Array[] = []): Promise<CodeStepResult> {
  const send = (tokens: Uint8Array[]) =>
    client.rpc({
      _: 'auth.sendCode',
      phoneNumber: digits(phone),
      apiId: client.apiId,
      apiHash: client.apiHash,
      settings: { _: 'codeSettings', ...(tokens.length > 0 ? { logoutTokens: tokens } : {}) },
    });
  let sent: tl.auth.TypeSentCode;
  let tokensRefused = false;
  try {
    sent = await send(logoutTokens);
  } catch (err) {
    // Only a refusal that is not about the number, the network or a wait can be the tokens' fault.
    if (logoutTokens.length === 0 || !(err instanceof TelegramCallError) || err.classified.kind !== 'telegram') throw err;
    sent = await send([]);
    tokensRefused = true;
  }
  if (sent._ === 'auth.sentCodeSuccess') return { kind: 'authorized', user: await onAuthorization(client, sent.authorization) };
  if (sent._ !== 'auth.sentCode') throw new Error(`Telegram cannot send a login code (${sent._})`);
  return { kind: 'code_sent', pending: await toPending(client, phone, sent), tokensRefused };
}

export async function resendCode(client: LoginClient, pending: PendingLogin): Promise<PendingLogin> {
  const sent = await client.rpc({
    _: 'auth.resendCode',
    phoneNumber: digits(pending.phone),
    phoneCodeHash: pending.phoneCodeHash,
  });
  if (sent._ !== 'auth.sentCode') throw new Error(`Telegram cannot resend the login code (${sent._})`);
  return toPending(client, pending.phone, sent);
}

export async function signIn(client: LoginClient, pending: PendingLogin, code: string): Promise<SignInResult> {
  try {
    const auth = await client.rpc({
      _: 'auth.signIn',
      phoneNumber: digits(pending.phone),
      phoneCodeHash: pending.phoneCodeHash,
      phoneCode: code,
    });
    return { kind: 'authorized', user: await onAuthorization(client, auth) };
  } catch (err) {
    if (isPasswordNeeded(err)) return passwordStep(client);
    throw err;
  }
}

/** Telegram's answer when the code (or QR scan) was right and the account has a 2FA password. */
export function isPasswordNeeded(err: unknown): boolean {
  return err instanceof TelegramCallError && err.classified.text === 'SESSION_PASSWORD_NEEDED';
}

/** The password step: its hint, from the current password parameters. */
export async function passwordStep(client: LoginClient): Promise<{ kind: 'password_required'; hint: string | null }> {
  const password = await client.rpc({ _: 'account.getPassword' });
  return { kind: 'password_required', hint: password.hint ?? null };
}

/** 2FA: SRP over the current password parameters; one retry when Telegram says they went stale. */
export async function checkPassword(client: LoginClient, plain: string): Promise<tl.RawUser> {
  for (let attempt = 1; ; attempt++) {
    const params = await client.rpc({ _: 'account.getPassword' });
    try {
      const auth = await client.rpc({ _: 'auth.checkPassword', password: await client.computeSrpParams(params, plain) });
      return await onAuthorization(client, auth);
    } catch (err) {
      const stale = err instanceof TelegramCallError && err.classified.text === 'SRP_ID_INVALID';
      if (!stale || attempt >= 2) throw err;
    }
  }
}

/** The session's own user (users.getUsers([inputUserSelf])): the call that proves a session is logged in. */
export async function getSelf(rpc: Rpc): Promise<tl.RawUser> {
  const users = await rpc({ _: 'users.getUsers', id: [{ _: 'inputUserSelf' }] });
  const self = users[0];
  if (!self || self._ !== 'user') throw new TelegramCallError('users.getUsers', { kind: 'telegram', text: 'USER_EMPTY', code: 0 });
  return self;
}

export type LoginStanding =
  | { kind: 'authorized'; user: tl.RawUser }
  | { kind: 'password_required'; hint: string | null }
  | { kind: 'not_authorized' }
  | { kind: 'unknown' };

/**
 * Where the key stands at Telegram after a login step that got no answer: logged in (the step went
 * through), waiting for the 2FA password, not logged in, or unknown (Telegram still does not answer).
 */
export async function whereLoginStands(client: LoginClient): Promise<LoginStanding> {
  try {
    const self = await getSelf(client.rpc);
    // mtcute must learn of the login as if it had seen the answer (it stores the self user).
    return { kind: 'authorized', user: await client.notifyLoggedIn({ _: 'auth.authorization', user: self }) };
  } catch (err) {
    if (!(err instanceof TelegramCallError)) return { kind: 'unknown' };
    if (isPasswordNeeded(err)) {
      try {
        return await passwordStep(client);
      } catch {
        return { kind: 'unknown' };
      }
    }
    if (err.classified.kind === 'auth_key_unregistered') return { kind: 'not_authorized' };
    return { kind: 'unknown' };
  }
}
