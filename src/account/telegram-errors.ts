/** Telegram's refusals → the service's stable AccountError codes (and never a secret in the message). */
import { TelegramCallError } from '../telegram/call-error.js';
import { SignUpRequiredError } from './login-flow.js';
import { AccountError, type AccountErrorCode } from './types.js';

const MESSAGES: Partial<Record<AccountErrorCode, string>> = {
  PHONE_NUMBER_INVALID: 'The phone number is not valid',
  PHONE_NUMBER_BANNED: 'This phone number is banned by Telegram',
  PHONE_CODE_INVALID: 'The login code is wrong',
  PHONE_CODE_EXPIRED: 'The login code has expired; request a new one (resend-code or send-code)',
  PHONE_CODE_EMPTY: 'The login code is empty',
  PASSWORD_HASH_INVALID: 'The 2FA password is wrong',
  PHONE_NUMBER_UNOCCUPIED: 'This phone number has no Telegram account; sign up in an official app first',
};

/** Telegram's own names that are also ours. */
const USER_INPUT_CODES: ReadonlySet<AccountErrorCode> = new Set([
  'PHONE_NUMBER_INVALID',
  'PHONE_NUMBER_BANNED',
  'PHONE_CODE_INVALID',
  'PHONE_CODE_EXPIRED',
  'PHONE_CODE_EMPTY',
  'PASSWORD_HASH_INVALID',
  'PHONE_NUMBER_UNOCCUPIED',
]);

/** A user-input rejection Telegram named in a way we have no exact code for, by family. */
function userInputCode(text: string): AccountErrorCode {
  if (USER_INPUT_CODES.has(text as AccountErrorCode)) return text as AccountErrorCode;
  if (text.startsWith('PHONE_CODE_') || text.startsWith('CODE_')) return 'PHONE_CODE_INVALID';
  if (text.startsWith('PASSWORD_') || text.startsWith('SRP_')) return 'PASSWORD_HASH_INVALID';
  return 'PHONE_NUMBER_INVALID';
}

export function toAccountError(err: unknown): AccountError {
  if (err instanceof AccountError) return err;
  if (err instanceof SignUpRequiredError) return new AccountError('PHONE_NUMBER_UNOCCUPIED', err.message);
  if (!(err instanceof TelegramCallError)) return new AccountError('TELEGRAM_ERROR', 'Unexpected error while talking to Telegram');
  const c = err.classified;
  switch (c.kind) {
    case 'flood_wait':
      return new AccountError('FLOOD_WAIT', `Telegram asked to wait ${c.seconds} s before ${err.method}`, c.seconds);
    case 'network':
      return new AccountError('TELEGRAM_UNAVAILABLE', `Telegram cannot be reached right now (${c.text})`);
    case 'revoked':
      return new AccountError('SESSION_REVOKED', `Telegram revoked the session (${c.text})`);
    case 'auth_key_unregistered':
      return new AccountError('NOT_AUTHENTICATED', 'The session is not authorized at Telegram');
    case 'user_input': {
      const code = userInputCode(c.text);
      return new AccountError(code, MESSAGES[code] ?? `Telegram refused the request (${c.text})`);
    }
    case 'telegram':
      if (c.text === 'PHONE_NUMBER_BANNED') return new AccountError('PHONE_NUMBER_BANNED', MESSAGES.PHONE_NUMBER_BANNED!);
      return new AccountError('TELEGRAM_ERROR', `Telegram answered with an error (${c.text})`);
  }
}
