/**
 * `+15551231111` → `+1555***1111`: the first 4 and last 4 digits of a full number stay readable (enough to
 * tell accounts apart in a log); shorter numbers keep less, and very short ones nothing.
 */
export function maskPhone(phone: string): string {
  const plus = phone.trim().startsWith('+') ? '+' : '';
  const digits = phone.replace(/\D/g, '');
  if (digits.length >= 10) return `${plus}${digits.slice(0, 4)}***${digits.slice(-4)}`;
  if (digits.length >= 6) return `${plus}${digits.slice(0, 2)}***${digits.slice(-2)}`;
  return `${plus}***`;
}

/** Whether a string already went through maskPhone (so it is not masked twice). */
export function isMaskedPhone(value: string): boolean {
  return /^\+?\d{0,4}\*\*\*\d{0,4}$/.test(value);
}
