/** Normalizing what people type: "+1 (555) 123-1111" → "+15551231111", "22 222" → "22222". */
import { normalizePhone as phoneOrUndefined, PHONE_RULE } from '../account/phone.js';
import { AccountError } from '../account/types.js';

/** The normalized phone number, or a PHONE_NUMBER_INVALID error. */
export function normalizePhone(input: string): string {
  const phone = phoneOrUndefined(input);
  if (!phone) throw new AccountError('PHONE_NUMBER_INVALID', `phone must be ${PHONE_RULE}`);
  return phone;
}

/** Login codes are digits; spaces and dashes are ignored. Anything else is a PHONE_CODE_INVALID error. */
export function normalizeCode(input: string): string {
  const compact = input.replace(/[\s-]/g, '');
  if (compact === '') throw new AccountError('PHONE_CODE_EMPTY', 'code must not be empty');
  if (!/^[0-9]{1,16}$/.test(compact)) throw new AccountError('PHONE_CODE_INVALID', 'code must consist of digits');
  return compact;
}
