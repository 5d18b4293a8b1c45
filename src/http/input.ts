/** Normalizing what people type: "+1 (555) 123-1111" → "+15551231111", "22 222" → "22222". */
import { AccountError } from '../account/types.js';

const PHONE_SEPARATORS = /[\s\-().]/g;

/** `+` followed by 5 to 15 digits (E.164 allows at most 15), or a PHONE_NUMBER_INVALID error. */
export function normalizePhone(input: string): string {
  const compact = input.replace(PHONE_SEPARATORS, '');
  if (!/^\+?[0-9]{5,15}$/.test(compact)) {
    throw new AccountError(
      'PHONE_NUMBER_INVALID',
      'phone must be an international number: 5 to 15 digits, optionally with a leading + (spaces and dashes are ignored)',
    );
  }
  return compact.startsWith('+') ? compact : `+${compact}`;
}

/** Login codes are digits; spaces and dashes are ignored. Anything else is a PHONE_CODE_INVALID error. */
export function normalizeCode(input: string): string {
  const compact = input.replace(/[\s-]/g, '');
  if (compact === '') throw new AccountError('PHONE_CODE_EMPTY', 'code must not be empty');
  if (!/^[0-9]{1,16}$/.test(compact)) throw new AccountError('PHONE_CODE_INVALID', 'code must consist of digits');
  return compact;
}
