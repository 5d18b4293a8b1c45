/** Account ids: lower-case letters, digits, '-' and '_', 1 to 64 characters, starting with a letter or digit. */
export const ACCOUNT_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';
const ACCOUNT_ID = new RegExp(ACCOUNT_ID_PATTERN);

export function isAccountId(value: unknown): boolean {
  return typeof value === 'string' && ACCOUNT_ID.test(value);
}
