/**
 * mtcute 0.30's byte formats of the key-value entries session.json keeps (dc_main, dc_media,
 * current_user), read and written here without mtcute: restoring the accounts and answering status must
 * not load mtcute (see telegram/load.ts). test/unit/mtcute-values.test.ts checks them against mtcute's own
 * functions.
 *
 * - A DC option: version byte (2; 1 has no test-mode flag), DC id byte, flags byte (1 IPv6, 2 media only,
 *   4 test mode), the IP address as a TL string, the port as int32 little-endian.
 * - current_user: empty = logged out; else int32 1 (format version), int32 flags (1 bot, 2 has usernames,
 *   4 premium), int53 user id (8 bytes LE), then if flag 2 an int32 count and that many TL strings.
 * A TL string: one length byte (≤ 253) or 254 and three length bytes, the UTF-8 bytes, zero padding to a
 * multiple of 4 counted from the string's first byte.
 */

export interface BasicDcOption {
  id: number;
  ipAddress: string;
  port: number;
  ipv6?: boolean;
  mediaOnly?: boolean;
  testMode?: boolean;
}

export interface SelfInfo {
  userId: number;
  isBot: boolean;
  isPremium: boolean;
  usernames: string[];
}

const DC_OPTION_VERSION = 2;

/** Reads little-endian values and TL strings; throws RangeError past the end. */
class ByteReader {
  private readonly view: DataView;
  pos = 0;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  uint8(): number {
    return this.view.getUint8(this.pos++);
  }

  int32(): number {
    const value = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return value;
  }

  string(): string {
    let length = this.uint8();
    let header = 1;
    if (length === 254) {
      length = this.uint8() | (this.uint8() << 8) | (this.uint8() << 16);
      header = 4;
    }
    if (this.pos + length > this.bytes.length) throw new RangeError('TL string past the end');
    const text = Buffer.from(this.bytes.subarray(this.pos, this.pos + length)).toString('utf8');
    this.pos += length + ((4 - ((header + length) % 4)) % 4);
    return text;
  }
}

function tlString(text: string): Buffer {
  const data = Buffer.from(text, 'utf8');
  const header = data.length <= 253 ? Buffer.from([data.length]) : Buffer.from([254, data.length & 0xff, (data.length >> 8) & 0xff, (data.length >> 16) & 0xff]);
  const padding = (4 - ((header.length + data.length) % 4)) % 4;
  return Buffer.concat([header, data, Buffer.alloc(padding)]);
}

/** A DC option's bytes, or null when they are not one. */
export function parseDcOption(bytes: Uint8Array): BasicDcOption | null {
  try {
    const reader = new ByteReader(bytes);
    const version = reader.uint8();
    if (version !== 1 && version !== 2) return null;
    const id = reader.uint8();
    const flags = reader.uint8();
    const ipAddress = reader.string();
    const port = reader.int32();
    return { id, ipAddress, port, ipv6: (flags & 1) !== 0, mediaOnly: (flags & 2) !== 0, testMode: version === 2 && (flags & 4) !== 0 };
  } catch {
    return null;
  }
}

export function serializeDcOption(dc: BasicDcOption): Uint8Array {
  const flags = (dc.ipv6 ? 1 : 0) | (dc.mediaOnly ? 2 : 0) | (dc.testMode ? 4 : 0);
  const port = Buffer.alloc(4);
  port.writeInt32LE(dc.port);
  return new Uint8Array(Buffer.concat([Buffer.from([DC_OPTION_VERSION, dc.id, flags]), tlString(dc.ipAddress), port]));
}

/** current_user's bytes: null = logged out, undefined = they do not decode (the raw value is still kept). */
export function decodeSelf(bytes: Uint8Array): SelfInfo | null | undefined {
  if (bytes.length === 0) return null;
  try {
    const reader = new ByteReader(bytes);
    if (reader.int32() !== 1) return undefined;
    const flags = reader.int32();
    const lo = reader.int32() >>> 0;
    const hi = reader.int32();
    const usernames: string[] = [];
    if (flags & 2) {
      const count = reader.int32();
      if (count < 0 || count > 64) return undefined;
      for (let i = 0; i < count; i++) usernames.push(reader.string());
    }
    return { userId: hi * 2 ** 32 + lo, isBot: (flags & 1) !== 0, isPremium: (flags & 4) !== 0, usernames };
  } catch {
    return undefined;
  }
}
