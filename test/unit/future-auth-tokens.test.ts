/**
 * Future auth tokens at rest and in use: which tokens are kept (newest 20, no twins) and offered (the
 * number's own, newest first), and future_auth_tokens.json — plaintext or encrypted with its own
 * additional data, a damaged file or another environment's ignored, a file the key does not open left
 * untouched.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tokensToOffer, withoutOffered, withToken } from '../../src/account/future-auth-tokens.js';
import { FutureAuthTokensFile } from '../../src/store/files/future-auth-tokens-file.js';
import { encryptDocumentText } from '../../src/store/session-crypto.js';
import type { FutureAuthToken } from '../../src/store/types.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const KEY = new Uint8Array(32).fill(7);
const NOW = new Date('2026-01-02T03:04:05Z');
const bytes = (n: number) => new Uint8Array(32).fill(n);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tokensFile(opts: { key?: Uint8Array; environment?: string } = {}): { file: string; store: FutureAuthTokensFile } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgsvc-fat-'));
  dirs.push(dir);
  const file = path.join(dir, 'future_auth_tokens.json');
  return { file, store: new FutureAuthTokensFile({ file, environment: opts.environment ?? 'sandbox', log: quiet, ...(opts.key ? { encryptionKey: opts.key } : {}) }) };
}

describe('which future auth tokens are kept and offered', () => {
  it('keeps the newest 20, never one twice, with the number as digits', () => {
    let kept: FutureAuthToken[] = [];
    for (let i = 1; i <= 25; i++) kept = withToken(kept, { token: bytes(i), phone: '+1 555 000 0001', userId: 5 }, NOW);
    kept = withToken(kept, { token: bytes(25), phone: '+15550000001' }, NOW);
    expect(kept).toHaveLength(20);
    expect(kept.map((t) => t.token[0])).toEqual([...Array.from({ length: 20 }, (_, i) => i + 6)]);
    expect(kept[0]).toMatchObject({ phone: '15550000001', userId: 5, receivedAt: NOW.toISOString() });
  });

  it('offers the number’s own tokens and those of no known number, newest first; drops exactly those', () => {
    let kept: FutureAuthToken[] = [];
    kept = withToken(kept, { token: bytes(1), phone: '+15550000001' }, NOW);
    kept = withToken(kept, { token: bytes(2), phone: '+15550000002' }, NOW);
    kept = withToken(kept, { token: bytes(3) }, NOW);
    kept = withToken(kept, { token: bytes(4), phone: '+15550000001' }, NOW);
    expect(tokensToOffer(kept, '+15550000001').map((t) => t[0])).toEqual([4, 3, 1]);
    expect(tokensToOffer(kept, '+15550000002').map((t) => t[0])).toEqual([3, 2]);
    expect(withoutOffered(kept, '+15550000001').map((t) => t.token[0])).toEqual([2]);
  });
});

describe('future_auth_tokens.json', () => {
  it('round-trips in plaintext (0600) and encrypted, where no token appears in the file', async () => {
    for (const key of [undefined, KEY]) {
      const { file, store } = tokensFile({ key });
      await store.load();
      expect(store.list()).toEqual([]);
      await store.save(withToken([], { token: bytes(9), phone: '+15550000009', userId: 9 }, NOW));
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const text = fs.readFileSync(file, 'utf8');
      expect(text.includes(Buffer.from(bytes(9)).toString('base64'))).toBe(key === undefined);
      expect(Object.keys(JSON.parse(text))).toEqual(key ? ['version', 'encrypted'] : ['version', 'environment', 'tokens']);
      const again = new FutureAuthTokensFile({ file, environment: 'sandbox', log: quiet, ...(key ? { encryptionKey: key } : {}) });
      await again.load();
      expect(again.list()).toEqual([{ token: bytes(9), phone: '15550000009', userId: 9, receivedAt: NOW.toISOString() }]);
    }
  });

  it('a file the key does not open (or session.json ciphertext put in its place) is ignored and left untouched', async () => {
    const { file, store } = tokensFile({ key: KEY });
    const sessionCiphertext = encryptDocumentText('{"version":1,"environment":"sandbox","tokens":[]}', KEY); // session.json's additional data
    fs.writeFileSync(file, sessionCiphertext, { mode: 0o600 });
    await store.load();
    expect(store.list()).toEqual([]);
    await store.save(withToken([], { token: bytes(1) }, NOW));
    expect(fs.readFileSync(file, 'utf8')).toBe(sessionCiphertext);
    expect(store.list()).toHaveLength(1); // still usable in this run, from memory
  });

  it('a damaged file or another environment’s is ignored, and replaced by the next save', async () => {
    for (const content of ['{"version":1,"tokens":"nope"', JSON.stringify({ version: 1, environment: 'production', tokens: [{ token: 'AAAA', receivedAt: 'x' }] })]) {
      const { file, store } = tokensFile();
      fs.writeFileSync(file, content, { mode: 0o600 });
      await store.load();
      expect(store.list()).toEqual([]);
      await store.save(withToken([], { token: bytes(2) }, NOW));
      expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ environment: 'sandbox', tokens: [{ token: Buffer.from(bytes(2)).toString('base64') }] });
    }
  });
});
