import { randomBytes } from 'node:crypto';
import Long from 'long';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawMtprotoClient, type RawTransport } from '../src/testing/raw-mtproto-client.js';
import { AbridgedCodec, FullCodec, IntermediateCodec, TransportViolation, detectTransport } from '../src/transport/index.js';
import { startTestDc, type TestDc } from './core-fixtures.js';

let dc: TestDc;
beforeAll(async () => {
  dc = await startTestDc();
});
afterAll(async () => {
  await dc.server.close();
});

const ALL: RawTransport[] = [
  'abridged',
  'intermediate',
  'padded',
  'full',
  'obfuscated-abridged',
  'obfuscated-intermediate',
  'obfuscated-padded',
];

describe('every transport through the raw client', () => {
  for (const transport of ALL) {
    it(`${transport}: key exchange, RPC, ping, large gzip answer`, async () => {
      const c = await RawMtprotoClient.connect(dc.server.port, transport);
      try {
        const { authKey } = await c.exchangeKey(dc.rsa.publicKeyPem);
        expect(authKey.length).toBeGreaterThan(240);
        const config = await c.callWithLayer({ _: 'help.getConfig' });
        expect(config._).toBe('config');
        const pingId = Long.fromNumber(12345);
        const pingMsgId = c.send({ _: 'mt_ping', pingId });
        const pong = await c.waitForObject('mt_pong');
        expect(pong.obj!.msgId.eq(pingMsgId)).toBe(true);
        expect(pong.obj!.pingId.eq(pingId)).toBe(true);
        // > 16 KiB answer: travels as gzip_packed inside rpc_result; frames > 0x7e words exercise long abridged lengths.
        const listMsgId = c.send({ _: 'help.getCountriesList', langCode: 'en', hash: 0 });
        const countries = await c.waitFor((m) => m.reqMsgId?.eq(listMsgId) === true);
        expect(countries.gzipped).toBe(true);
        expect(countries.result!._).toBe('help.countriesList');
        expect(countries.result!.countries).toHaveLength(400);
      } finally {
        c.close();
      }
    });
  }
});

function chunks(data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

describe('framing codecs', () => {
  const payloads = [new Uint8Array(8).fill(1), new Uint8Array(random4(600)), new Uint8Array(random4(70_000))];
  function random4(n: number): Uint8Array {
    return new Uint8Array(randomBytes(n - (n % 4)));
  }

  for (const make of [
    () => new AbridgedCodec(1 << 20),
    () => new IntermediateCodec(1 << 20, false),
    () => new IntermediateCodec(1 << 20, true),
    () => new FullCodec(1 << 20),
  ]) {
    it(`${make().kind}: round-trips frames fed one byte at a time and in one piece`, () => {
      const enc = make();
      const stream = Buffer.concat(payloads.map((p) => enc.encode(p)));
      for (const size of [1, 7, stream.length]) {
        const dec = make();
        const got = chunks(stream, size).flatMap((c) => dec.decode(c));
        expect(got.length).toBe(payloads.length);
        got.forEach((g, i) => {
          // padded intermediate may carry up to 15 bytes of padding after the payload
          expect(Buffer.from(g.subarray(0, payloads[i].length)).equals(Buffer.from(payloads[i]))).toBe(true);
          expect(g.length - payloads[i].length).toBeLessThan(16);
        });
        expect(dec.buffered).toBe(0);
      }
    });
  }

  it('rejects absurd lengths before buffering them', () => {
    const abridged = new AbridgedCodec(1 << 20);
    expect(() => abridged.decode(Uint8Array.of(0x7f, 0xff, 0xff, 0xff))).toThrow(TransportViolation);
    const inter = new IntermediateCodec(1 << 20, false);
    expect(() => inter.decode(Uint8Array.of(0xff, 0xff, 0xff, 0x7f))).toThrow(TransportViolation);
    expect(() => new IntermediateCodec(1 << 20, false).decode(Uint8Array.of(0, 0, 0, 0))).toThrow(TransportViolation);
    expect(() => new FullCodec(1 << 20).decode(Uint8Array.of(8, 0, 0, 0))).toThrow(TransportViolation);
  });

  it('full: rejects a bad CRC and a wrong seqno', () => {
    const enc = new FullCodec(1 << 20);
    const frame = enc.encode(new Uint8Array(8));
    frame[10] ^= 1;
    expect(() => new FullCodec(1 << 20).decode(frame)).toThrow(/CRC/);
    const second = enc.encode(new Uint8Array(8)); // seqno 1 where 0 is expected
    expect(() => new FullCodec(1 << 20).decode(second)).toThrow(/seqno/);
  });

  it('detects each tag and refuses HTTP', () => {
    expect(detectTransport(Uint8Array.of(0xef), 1024)?.transport.codec.kind).toBe('abridged');
    expect(detectTransport(new Uint8Array(4).fill(0xee), 1024)?.transport.codec.kind).toBe('intermediate');
    expect(detectTransport(new Uint8Array(4).fill(0xdd), 1024)?.transport.codec.kind).toBe('padded-intermediate');
    expect(detectTransport(Uint8Array.of(40, 0, 0, 0, 0, 0, 0, 0), 1024)?.transport.codec.kind).toBe('full');
    expect(detectTransport(Uint8Array.of(40, 0, 0), 1024)).toBeNull();
    expect(() => detectTransport(Buffer.from('POST / HTTP/1.1\r\n'), 1024)).toThrow(TransportViolation);
    // 64 random bytes whose decrypted tag is not a known protocol: refused.
    const junk = new Uint8Array(randomBytes(64));
    junk[0] = 1;
    junk[4] = 1;
    expect(() => detectTransport(junk, 1024)).toThrow(TransportViolation);
  });
});
