/** Sizes in settings: `64MB`, `512KB`, `2GB` (powers of 1024; `MiB`/`KiB`/`GiB` too) or a plain number of bytes. */
const UNIT_BYTES = { b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3 } as const;
const SIZE = /^(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?$/;

/** Bytes, or undefined when the text is not a size. */
export function parseByteSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim().toLowerCase());
  if (!match) return undefined;
  const bytes = Number(match[1]) * UNIT_BYTES[(match[2] ?? 'b') as keyof typeof UNIT_BYTES];
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
