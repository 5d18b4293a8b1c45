/**
 * The older encryption of p_q_inner_data (SHA1(data) + data + padding to 255 bytes, raw RSA), as
 * Telethon and Pyrogram send it, beside RSA_PAD: accepted for p_q_inner_data and p_q_inner_data_dc,
 * and a malformed one is refused exactly like a bad RSA_PAD (-404, connection closed).
 */
import { constants, publicEncrypt, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha1 } from '../src/crypto/hash.js';
import { RawMtprotoClient } from '../src/testing/raw-mtproto-client.js';
import { readTlObject } from '../src/tl/index.js';
import { startTestDc, type TestDc } from './core-fixtures.js';

let dc: TestDc;
beforeAll(async () => {
  dc = await startTestDc();
});
afterAll(async () => {
  await dc.server.close();
});

/** What the DC does with a key exchange: the key it made, or the transport error it answered with. */
async function outcome(opts: Parameters<RawMtprotoClient['exchangeKey']>[1]): Promise<{ key: boolean; transportErrors: number[]; closed: boolean }> {
  const c = await RawMtprotoClient.connect(dc.server.port, 'abridged');
  try {
    await c.exchangeKey(dc.rsa.publicKeyPem, opts);
    const config = await c.callWithLayer({ _: 'help.getConfig' });
    expect(config._).toBe('config');
    return { key: true, transportErrors: [...c.transportErrors], closed: c.closed };
  } catch {
    await c.waitClosed();
    return { key: false, transportErrors: [...c.transportErrors], closed: c.closed };
  } finally {
    c.close();
  }
}

describe('SHA1-padded RSA key exchange (Telethon, Pyrogram)', () => {
  it('creates a key from p_q_inner_data (no dc) and from p_q_inner_data_dc', async () => {
    const before = dc.store.keys.size;
    expect(await outcome({ encryption: 'sha1_padded', legacyInnerData: true })).toEqual({ key: true, transportErrors: [], closed: false });
    expect(await outcome({ encryption: 'sha1_padded', dc: 2 })).toEqual({ key: true, transportErrors: [], closed: false });
    expect(dc.store.keys.size).toBe(before + 2);
  });

  it('RSA_PAD keeps working for both inner-data kinds', async () => {
    expect((await outcome({ encryption: 'rsa_pad', legacyInnerData: true })).key).toBe(true);
    expect((await outcome({ encryption: 'rsa_pad', dc: 2 })).key).toBe(true);
  });

  it('a wrong hash in either form gets the same answer: -404 and a closed connection, no key', async () => {
    const before = dc.store.keys.size;
    const refused = { key: false, transportErrors: [404], closed: true };
    expect(await outcome({ encryption: 'sha1_padded', legacyInnerData: true, breakHash: true })).toEqual(refused);
    expect(await outcome({ encryption: 'sha1_padded', dc: 2, breakHash: true })).toEqual(refused);
    expect(await outcome({ encryption: 'rsa_pad', breakHash: true })).toEqual(refused);
    expect(dc.store.keys.size).toBe(before);
    const logged = dc.logs.filter((l) => l.msg === 'key exchange failed').map((l) => l.fields?.why);
    expect(logged.slice(-3)).toEqual(Array(3).fill('encrypted_data does not decrypt (neither RSA_PAD nor SHA1-padded RSA)'));
  });
});

describe('decryptInnerData', () => {
  const measure = (data: Uint8Array): number | null => {
    try {
      return readTlObject(data).end;
    } catch {
      return null;
    }
  };
  // A p_q_inner_data-shaped object: help.getConfig's id is enough for the reader to measure 4 bytes.
  const object = Uint8Array.from([0x6b, 0x18, 0xf9, 0xc4]);
  const encrypt = (block: Uint8Array): Uint8Array => new Uint8Array(publicEncrypt({ key: dc.rsa.publicKeyPem, padding: constants.RSA_NO_PADDING }, block));
  const sha1Block = (lead: number, hash: Uint8Array, data: Uint8Array): Uint8Array => {
    const block = new Uint8Array(256);
    block[0] = lead;
    block.set(hash, 1);
    block.set(data, 21);
    block.set(randomBytes(256 - 21 - data.length), 21 + data.length);
    return block;
  };

  it('returns the object for a good SHA1-padded block and null for every kind of bad one', () => {
    const good = dc.rsa.decryptInnerData(encrypt(sha1Block(0, sha1(object), object)), measure);
    expect(good && Buffer.from(good.subarray(0, 4))).toEqual(Buffer.from(object));
    const badHash = sha1(object);
    badHash[5] ^= 0x80;
    expect(dc.rsa.decryptInnerData(encrypt(sha1Block(0, badHash, object)), measure)).toBeNull();
    expect(dc.rsa.decryptInnerData(encrypt(sha1Block(1, sha1(object), object)), measure)).toBeNull(); // not a 255-byte block
    expect(dc.rsa.decryptInnerData(encrypt(sha1Block(0, sha1(object), object)), () => null)).toBeNull(); // unmeasurable object
    expect(dc.rsa.decryptInnerData(encrypt(sha1Block(0, sha1(object), object)), () => 236)).toBeNull(); // longer than fits
    expect(dc.rsa.decryptInnerData(new Uint8Array(256).fill(0xff), measure)).toBeNull(); // ≥ n
    expect(dc.rsa.decryptInnerData(new Uint8Array(255), measure)).toBeNull();
  });
});
