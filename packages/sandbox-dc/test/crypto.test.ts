import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Long from 'long';
import { describe, expect, it, beforeAll } from 'vitest';
import {
  addPublicKey,
  NodeCryptoProvider,
  computeSrpParams,
  createAesIgeForMessage,
  findKeyByFingerprints,
  generateKeyAndIvFromNonce,
  parsePublicKey,
  __tlReaderMap,
} from '@mtcute/node/utils.js';
import { AuthKey } from '../../../node_modules/@mtcute/core/network/auth-key.js';
import { aesIgeDecrypt, aesIgeEncrypt, tmpAesKeyIv } from '../src/crypto/aes.js';
import { authKeyAuxHash, authKeyId, computeAuthKey, DH_PRIME, newNonceHash, newServerDh } from '../src/crypto/dh.js';
import { bigIntToBytes, bytesToBigInt, modPow } from '../src/crypto/bigint-bytes.js';
import { decryptMessage, encryptMessage } from '../src/crypto/message-crypto.js';
import { generateDcRsaKey, loadOrCreateDcRsaKey, type DcRsaKey } from '../src/crypto/rsa.js';
import { checkSrp, createSrpPassword, startSrp } from '../src/crypto/srp.js';
import { sha1 } from '../src/crypto/hash.js';
import { runMtcuteHandshake } from './crypto-mtcute-handshake.js';

let mt: NodeCryptoProvider;
let rsa: DcRsaKey;

beforeAll(async () => {
  mt = new NodeCryptoProvider();
  await mt.initialize();
  rsa = generateDcRsaKey();
});

describe('AES-IGE', () => {
  it('matches mtcute (wasm) both ways and round-trips', () => {
    for (const len of [16, 32, 160, 1024]) {
      const key = randomBytes(32);
      const iv = randomBytes(32);
      const data = randomBytes(len);
      const ours = aesIgeEncrypt(data, key, iv);
      const theirs = mt.createAesIge(key, iv).encrypt(data);
      expect(Buffer.from(ours)).toEqual(Buffer.from(theirs));
      expect(Buffer.from(aesIgeDecrypt(ours, key, iv))).toEqual(data);
    }
  });
  it('rejects bad lengths', () => {
    expect(() => aesIgeEncrypt(new Uint8Array(15), new Uint8Array(32), new Uint8Array(32))).toThrow(RangeError);
  });
  it('tmp_aes_key/iv match mtcute', () => {
    const newNonce = randomBytes(32);
    const serverNonce = randomBytes(16);
    const [key, iv] = generateKeyAndIvFromNonce(mt, serverNonce, newNonce);
    const ours = tmpAesKeyIv(newNonce, serverNonce);
    expect(Buffer.from(ours.key)).toEqual(Buffer.from(key));
    expect(Buffer.from(ours.iv)).toEqual(Buffer.from(iv));
  });
});

describe('RSA key', () => {
  it('is PKCS#1, accepted by mtcute with the same fingerprint', () => {
    expect(rsa.publicKeyPem).toMatch(/^-----BEGIN RSA PUBLIC KEY-----/);
    const parsed = parsePublicKey(mt, rsa.publicKeyPem);
    expect(parsed.fingerprint).toBe(rsa.fingerprintHex);
    expect(rsa.fingerprintHex).toHaveLength(16);
    expect(rsa.fingerprint.toUnsigned().toString(16)).toBe(rsa.fingerprintHex);
    addPublicKey(mt, rsa.publicKeyPem);
    expect(findKeyByFingerprints([rsa.fingerprint])?.modulus).toBe(parsed.modulus);
  });

  it('decryptRsaPad rejects garbage, wrong lengths and values >= n', () => {
    expect(rsa.decryptRsaPad(new Uint8Array(256).fill(0xff))).toBeNull();
    expect(rsa.decryptRsaPad(new Uint8Array(255))).toBeNull();
    const junk = randomBytes(256);
    junk[0] = 0x10;
    expect(rsa.decryptRsaPad(junk)).toBeNull();
  });

  it('persists in dataDir with mode 0600 and reloads the same key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dc-rsa-'));
    const first = await loadOrCreateDcRsaKey(dir);
    const st = await stat(join(dir, 'rsa_key.pem'));
    expect(st.mode & 0o777).toBe(0o600);
    const second = await loadOrCreateDcRsaKey(dir);
    expect(second.publicKeyPem).toBe(first.publicKeyPem);
    expect(second.fingerprint.equals(first.fingerprint)).toBe(true);
    expect(await readFile(join(dir, 'rsa_key.pem'), 'utf8')).toBe(first.privateKeyPem);
    const memory = await loadOrCreateDcRsaKey();
    expect(memory.publicKeyPem).not.toBe(first.publicKeyPem);
  });

  it('a corrupt key file is an error, not a silent new key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dc-rsa-'));
    await writeFile(join(dir, 'rsa_key.pem'), 'not a key');
    await expect(loadOrCreateDcRsaKey(dir)).rejects.toThrow();
  });
});

describe('key exchange against mtcute doAuthorization', () => {
  it('mtcute completes the handshake (RSA_PAD, DH, nonce hashes) and holds the same auth key', async () => {
    addPublicKey(mt, rsa.publicKeyPem);
    for (let i = 0; i < 3; i++) {
      const res = await runMtcuteHandshake(rsa);
      expect(res.innerConstructor).toBe('mt_p_q_inner_data_dc');
      expect(Buffer.from(res.serverKey)).toEqual(Buffer.from(res.clientKey));
      expect(authKeyId(res.serverKey)).toBe(Buffer.from(mt.sha1(res.clientKey).subarray(-8)).toString('hex'));
    }
  });
});

describe('DH', () => {
  const p = bytesToBigInt(DH_PRIME);
  it('is the prime mtcute knows, g_a in range', () => {
    expect(DH_PRIME).toHaveLength(256);
    expect(p % 3n).toBe(2n);
    const { a, gA } = newServerDh();
    expect(gA).toHaveLength(256);
    expect(bytesToBigInt(gA)).toBe(modPow(3n, a, p));
  });
  it('auth key equals g^ab as minimal-length bytes', () => {
    const { a, gA } = newServerDh();
    const b = bytesToBigInt(randomBytes(256)) % p;
    const gB = bigIntToBytes(modPow(3n, b, p));
    const key = computeAuthKey(gB, a)!;
    const expected = bigIntToBytes(modPow(bytesToBigInt(gA), b, p));
    expect(Buffer.from(key)).toEqual(Buffer.from(expected));
    expect(key[0]).not.toBe(0);
  });
  it('rejects g_b out of range', () => {
    const { a } = newServerDh();
    for (const bad of [0n, 1n, 2n, p - 1n, p, p + 5n, 1n << 1984n, p - (1n << 1984n)]) {
      expect(computeAuthKey(bigIntToBytes(bad), a)).toBeNull();
    }
    expect(computeAuthKey(new Uint8Array(0), a)).toBeNull();
    expect(computeAuthKey(new Uint8Array(300).fill(1), a)).toBeNull();
  });
  it('key id, aux hash, new_nonce_hash', () => {
    const key = randomBytes(256);
    const h = sha1(key);
    expect(authKeyId(key)).toBe(Buffer.from(h.subarray(12)).toString('hex'));
    expect(Buffer.from(authKeyAuxHash(key))).toEqual(Buffer.from(h.subarray(0, 8)));
    const nn = randomBytes(32);
    const expected = mt.sha1(Buffer.concat([nn, Buffer.from([2]), h.subarray(0, 8)])).subarray(4, 20);
    expect(Buffer.from(newNonceHash(nn, key, 2))).toEqual(Buffer.from(expected));
  });
});

describe('MTProto 2.0 message encryption vs mtcute AuthKey', () => {
  const noLog = { prefix: '', create: () => noLog, debug() {}, verbose() {}, info() {}, warn() {}, error() {} };
  function mtcuteKey(key: Uint8Array): AuthKey {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const ak = new AuthKey(mt, noLog as any, __tlReaderMap as any);
    ak.setup(key);
    return ak;
  }
  function header(salt: Long, sessionId: Long, msgId: Long, seqNo: number, body: Uint8Array): Uint8Array {
    const out = Buffer.alloc(32 + body.length);
    out.writeInt32LE(salt.low, 0);
    out.writeInt32LE(salt.high, 4);
    out.writeInt32LE(sessionId.low, 8);
    out.writeInt32LE(sessionId.high, 12);
    out.writeInt32LE(msgId.low, 16);
    out.writeInt32LE(msgId.high, 20);
    out.writeInt32LE(seqNo, 24);
    out.writeInt32LE(body.length, 28);
    out.set(body, 32);
    return out;
  }

  for (const keyLen of [256, 255]) {
    it(`client → server (x=0) decrypts, key of ${keyLen} bytes`, () => {
      const key = randomBytes(keyLen);
      key[0] = 1;
      const ak = mtcuteKey(key);
      const sessionId = Long.fromBytesLE([...randomBytes(8)]);
      const body = randomBytes(40);
      const wire = ak.encryptMessage(Buffer.concat([Buffer.alloc(8, 7), body]), Long.fromInt(5), sessionId);
      const plain = decryptMessage(key, wire, 0)!;
      expect(plain).not.toBeNull();
      expect(Buffer.from(plain.subarray(16, 24))).toEqual(Buffer.alloc(8, 7));
      expect(Buffer.from(plain.subarray(24, 64))).toEqual(body);
      expect(decryptMessage(key, wire, 8)).toBeNull();
      const tampered = Uint8Array.from(wire);
      tampered[40] ^= 1;
      expect(decryptMessage(key, tampered, 0)).toBeNull();
      expect(decryptMessage(randomBytes(256), wire, 0)).toBeNull();
      expect(decryptMessage(key, wire.subarray(0, 30), 0)).toBeNull();
    });

    it(`server → client (x=8) is accepted by mtcute, key of ${keyLen} bytes`, () => {
      const key = randomBytes(keyLen);
      key[0] = 1;
      const ak = mtcuteKey(key);
      const sessionId = Long.fromBytesLE([...randomBytes(8)]);
      for (const bodyLen of [4, 12, 16, 100, 5000]) {
        const body = randomBytes(bodyLen);
        const msgId = Long.fromNumber(Date.now()).shiftLeft(20).or(1);
        const wire = encryptMessage(key, header(Long.fromInt(9), sessionId, msgId, 3, body), 8);
        expect((wire.length - 24) % 16).toBe(0);
        let got: { msgId: Long; seqNo: number; body: Uint8Array } | undefined;
        ak.decryptMessage(wire, sessionId, (id, seqNo, reader) => {
          got = { msgId: id, seqNo, body: reader.raw(bodyLen) }; // reader is past the length field
        });
        expect(got).toBeDefined();
        expect(got!.msgId.equals(msgId)).toBe(true);
        expect(got!.seqNo).toBe(3);
        expect(Buffer.from(got!.body)).toEqual(body);
      }
    });
  }

  it('createAesIgeForMessage agrees with our key derivation', () => {
    const key = randomBytes(256);
    const plain = randomBytes(64);
    const wire = encryptMessage(key, plain.subarray(0, 48), 8);
    const ige = createAesIgeForMessage(mt, key, wire.subarray(8, 24), false);
    const dec = ige.decrypt(wire.subarray(24));
    expect(Buffer.from(dec.subarray(0, 48))).toEqual(plain.subarray(0, 48));
  });
});

describe('SRP', () => {
  it('mtcute computeSrpParams: right password verifies, wrong does not', async () => {
    const pw = createSrpPassword('hunter2 пароль');
    const request = (session: ReturnType<typeof startSrp>) => ({
      _: 'account.password' as const,
      hasPassword: true,
      currentAlgo: {
        _: 'passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow' as const,
        salt1: pw.salt1,
        salt2: pw.salt2,
        g: pw.g,
        p: pw.p,
      },
      srpB: session.B,
      srpId: session.srpId,
      newAlgo: { _: 'passwordKdfAlgoUnknown' as const },
      newSecureAlgo: { _: 'securePasswordKdfAlgoUnknown' as const },
      secureRandom: new Uint8Array(32),
    });
    const s1 = startSrp(pw);
    expect(s1.B).toHaveLength(256);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const good = await computeSrpParams(mt, request(s1) as any, 'hunter2 пароль');
    expect(good.srpId.equals(s1.srpId)).toBe(true);
    expect(checkSrp(pw, s1, good.A, good.M1)).toBe(true);

    const s2 = startSrp(pw);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const bad = await computeSrpParams(mt, request(s2) as any, 'hunter3');
    expect(checkSrp(pw, s2, bad.A, bad.M1)).toBe(false);
    // the right answer for another session does not verify either
    expect(checkSrp(pw, s2, good.A, good.M1)).toBe(false);
  });

  it('rejects degenerate A', () => {
    const pw = createSrpPassword('x');
    const s = startSrp(pw);
    const m1 = new Uint8Array(32);
    for (const A of [new Uint8Array(0), new Uint8Array(256), DH_PRIME, bigIntToBytes(1n), bigIntToBytes(bytesToBigInt(DH_PRIME) - 1n)]) {
      expect(checkSrp(pw, s, A, m1)).toBe(false);
    }
    expect(checkSrp(pw, s, randomBytes(256), new Uint8Array(31))).toBe(false);
  });
});
