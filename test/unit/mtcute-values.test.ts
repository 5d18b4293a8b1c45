/**
 * The store reads and writes mtcute's DC option bytes without mtcute (store/mtcute-values.ts): they must
 * be exactly mtcute's own, both ways, for every kind of option.
 */
import { describe, expect, it } from 'vitest';
import { parseBasicDcOption, serializeBasicDcOption, type BasicDcOption } from '@mtcute/core/utils.js';
import { decodeSelf, parseDcOption, serializeDcOption } from '../../src/store/mtcute-values.js';

const OPTIONS: BasicDcOption[] = [
  { id: 2, ipAddress: '149.154.167.50', port: 443 },
  { id: 2, ipAddress: '127.0.0.1', port: 9444, mediaOnly: true },
  { id: 4, ipAddress: '2001:067c:04e8:f004:0000:0000:0000:000a', port: 443, ipv6: true },
  { id: 1, ipAddress: '149.154.175.10', port: 80, testMode: true, mediaOnly: true },
  { id: 5, ipAddress: '91.108.56.1', port: 65535, ipv6: false, mediaOnly: false, testMode: false },
  { id: 3, ipAddress: 'a', port: 1 },
  { id: 3, ipAddress: 'abc', port: 2 },
];

const normalized = (dc: BasicDcOption) => ({ ...dc, ipv6: !!dc.ipv6, mediaOnly: !!dc.mediaOnly, testMode: !!dc.testMode });

describe('mtcute byte formats without mtcute', () => {
  it.each(OPTIONS.map((dc) => [dc.ipAddress.slice(0, 40), dc] as const))('DC option %s: the same bytes as mtcute, read back by both', (_name, dc) => {
    const ours = serializeDcOption(dc);
    expect(Buffer.from(ours)).toEqual(Buffer.from(serializeBasicDcOption(dc)));
    expect(parseDcOption(ours)).toEqual(normalized(dc));
    expect(parseBasicDcOption(ours)).toEqual(normalized(dc));
  });

  it("reads mtcute's older version-1 options (no test-mode flag) as mtcute does", () => {
    const v1 = new Uint8Array(serializeBasicDcOption({ id: 2, ipAddress: '10.0.0.1', port: 443, testMode: true, mediaOnly: true }));
    v1[0] = 1;
    expect(parseDcOption(v1)).toEqual(parseBasicDcOption(v1));
    expect(parseDcOption(v1)?.testMode).toBe(false);
  });

  it('says null for bytes that are not a DC option', () => {
    expect(parseDcOption(new Uint8Array([]))).toBeNull();
    expect(parseDcOption(new Uint8Array([3, 2, 0, 1, 65, 0, 0]))).toBeNull(); // unknown version
    expect(parseDcOption(new Uint8Array([2, 2, 0, 40, 65]))).toBeNull(); // string past the end
    expect(parseDcOption(serializeDcOption(OPTIONS[0]!).subarray(0, 10))).toBeNull(); // no port
  });

  it('decodes current_user: logged out, a user with usernames, and bytes that do not decode', () => {
    expect(decodeSelf(new Uint8Array([]))).toBeNull();
    const self = Buffer.alloc(32);
    self.writeInt32LE(1, 0); // format version
    self.writeInt32LE(2 | 4, 4); // has usernames, premium
    self.writeUInt32LE(0x12345678, 8);
    self.writeInt32LE(0x1f, 12); // int53 id, high half
    self.writeInt32LE(1, 16); // one username
    Buffer.from([5, ...Buffer.from('alice'), 0, 0]).copy(self, 20);
    expect(decodeSelf(new Uint8Array(self.subarray(0, 28)))).toEqual({
      userId: 0x1f * 2 ** 32 + 0x12345678,
      isBot: false,
      isPremium: true,
      usernames: ['alice'],
    });
    expect(decodeSelf(new Uint8Array([2, 0, 0, 0]))).toBeUndefined(); // unknown format version
    expect(decodeSelf(new Uint8Array(self.subarray(0, 22)))).toBeUndefined(); // truncated username
  });
});
