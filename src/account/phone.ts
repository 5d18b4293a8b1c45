/** The one rule for phone numbers people type: "+1 (555) 123-1111" → "+15551231111". */

/** What a phone number must look like, said in error answers. */
export const PHONE_RULE = 'an international number: 5 to 15 digits, optionally with a leading + (spaces, dashes, dots and parentheses are ignored)';

/** `+` and 5 to 15 digits (E.164 allows at most 15); undefined when it cannot be a phone number. */
export function normalizePhone(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > 64) return undefined;
  const compact = input.trim().replace(/[\s()\-.]/g, '');
  if (!/^\+?\d{5,15}$/.test(compact)) return undefined;
  return `+${compact.replace(/^\+/, '')}`;
}

/** Telegram's form of a normalized number: digits only. */
export function phoneDigits(phone: string): string {
  return phone.replace(/\D/g, '');
}
