/**
 * JSON with the value types the DC's state holds: bytes, bigints and int64 Longs survive a round trip
 * as tagged objects ({"$b": base64}, {"$n": "123"}, {"$l": "-5"}).
 */
import Long from 'long';

function encodeValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $b: Buffer.from(value).toString('base64') };
  if (typeof value === 'bigint') return { $n: value.toString() };
  if (Long.isLong(value)) return { $l: (value as Long).toString() };
  return value;
}

export function encodeJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string) {
    // `this[key]` is the raw value; JSON.stringify would otherwise hand us Buffer#toJSON output.
    return encodeValue(this[key]);
  });
}

export function decodeJson<T>(text: string): T {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const keys = Object.keys(value);
      if (keys.length === 1) {
        const v = (value as Record<string, unknown>)[keys[0]!];
        if (typeof v === 'string') {
          if (keys[0] === '$b') return new Uint8Array(Buffer.from(v, 'base64'));
          if (keys[0] === '$n') return BigInt(v);
          if (keys[0] === '$l') return Long.fromString(v);
        }
      }
    }
    return value;
  }) as T;
}
