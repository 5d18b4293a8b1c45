import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, maskPhone, scrubSecrets } from '../../src/logging/index.js';
import { LOG_MESSAGES } from '../../src/logging/messages.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

const temps: string[] = [];
function logFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logging-test-'));
  temps.push(dir);
  return path.join(dir, 'sub', 'telegram_service.log');
}
afterEach(() => {
  for (const dir of temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function lines(file: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const API_TOKEN = 'Zx9-api-token-value-0123456789abcdef';
const API_HASH = 'fedcba9876543210fedcba9876543210';

describe('maskPhone', () => {
  it('keeps the first 4 and last 4 digits of a full number', () => {
    expect(maskPhone('+15551231111')).toBe('+1555***1111');
    expect(maskPhone('+9996621234')).toBe('+9996***1234');
    expect(maskPhone('+44 7700 900123')).toBe('+4477***0123');
    expect(maskPhone('15551231111')).toBe('1555***1111');
  });

  it('masks short numbers mostly or entirely', () => {
    expect(maskPhone('+1234567')).toBe('+12***67');
    expect(maskPhone('+12345')).toBe('+***');
    expect(maskPhone('')).toBe('***');
  });

  it('never shows the hidden middle digits', () => {
    const masked = maskPhone('+15559876543');
    expect(masked).not.toContain('987');
  });
});

describe('createLogger', () => {
  it('writes JSON lines to the log file, created with mode 0600', () => {
    const file = logFile();
    const log = createLogger({ logLevel: 'info', logFile: file }, { stdout: 'none' });
    log.info({ state: 'authenticated' }, 'hello');
    log.debug('not at info level');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const [line, ...rest] = lines(file);
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ level: 30, msg: 'hello', state: 'authenticated', pid: process.pid });
    expect(typeof line!.time).toBe('string');
  });

  it('tightens an existing log file to 0600 and appends', () => {
    const file = logFile();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '{"msg":"old"}\n', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    createLogger({ logLevel: 'info', logFile: file }, { stdout: 'none' }).info('new');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(lines(file).map((l) => l.msg)).toEqual(['old', `${file} had mode 0644; fixed to 0600`, 'new']);
  });

  it('redacts codes, passwords, hashes, keys, tokens and authorization headers at any depth', () => {
    const file = logFile();
    const log = createLogger({ logLevel: 'trace', logFile: file, apiToken: API_TOKEN, telegram: { apiHash: API_HASH } }, { stdout: 'none' });
    const secrets = ['22222', 'hunter2-password', 'phone-code-hash-abc', 'auth-key-bytes-xyz', 'bearer-secret-123'];
    log.info({ code: '22222', password: 'hunter2-password', phoneCodeHash: 'phone-code-hash-abc' }, 'top level');
    log.info({ step: { code: 22222, authKey: 'auth-key-bytes-xyz' } }, 'one level down');
    log.info({ a: { b: { c: { password: 'hunter2-password', list: [{ token: 'bearer-secret-123' }] } } } }, 'deep');
    log.info({ req: { headers: { authorization: 'Bearer bearer-secret-123' } } }, 'headers');
    log.info({ apiHash: API_HASH, apiToken: API_TOKEN }, 'config-ish');
    log.child({ password: 'hunter2-password' }).info('child bindings');
    log.info(`a message that should not hold the token ${API_TOKEN} nor the hash ${API_HASH}`);

    const text = fs.readFileSync(file, 'utf8');
    for (const secret of [...secrets, API_TOKEN, API_HASH]) expect(text, secret).not.toContain(secret);
    expect(lines(file)).toHaveLength(7);
    expect(text).toContain('[Redacted]');
  });

  it('keeps error codes (ENOSPC, PHONE_CODE_INVALID) and serializes errors', () => {
    const file = logFile();
    const log = createLogger({ logLevel: 'info', logFile: file }, { stdout: 'none' });
    const err = Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    log.error({ err }, 'write failed');
    log.warn({ code: 'PHONE_CODE_INVALID' }, 'rpc error');
    const [first, second] = lines(file);
    expect(first!.err).toMatchObject({ type: 'Error', message: 'disk full', code: 'ENOSPC' });
    expect(second!.code).toBe('PHONE_CODE_INVALID');
  });

  it('types a logged error by its name, not its (bundled, shortened) class name; passes non-errors through', () => {
    const file = logFile();
    const log = createLogger({ logLevel: 'info', logFile: file }, { stdout: 'none' });
    // What the minified bundle makes of `class AccountError extends Error { … this.name = 'AccountError' }`.
    const Xe = class extends Error {
      constructor(message: string) {
        super(message);
        this.name = 'AccountError';
      }
    };
    log.error({ err: new Xe('not found') }, 'failed');
    log.error({ err: 'just text' }, 'failed with a string');
    const [first, second] = lines(file);
    expect(first!.err).toMatchObject({ type: 'AccountError', message: 'not found' });
    expect((first!.err as { stack: string }).stack).toContain('AccountError: not found');
    expect(second!.err).toBe('just text');
  });

  it('masks phone numbers in records and child bindings', () => {
    const file = logFile();
    const log = createLogger({ logLevel: 'info', logFile: file }, { stdout: 'none' });
    log.info({ phone: '+15551231111' }, 'state change');
    log.info({ user: { phone: '+15551231111' } }, 'nested');
    log.child({ phone: '+15551231111' }).info('child');
    log.info({ phone: '+1555***1111' }, 'already masked');
    expect(fs.readFileSync(file, 'utf8')).not.toContain('5551231111');
    expect(lines(file).map((l) => JSON.stringify(l)).every((l) => l.includes('+1555***1111'))).toBe(true);
  });
});

describe('scrubSecrets', () => {
  it('returns the same object when nothing changes, and does not mutate the input', () => {
    const clean = { a: 1, b: { c: 'x' }, d: [1, 2] };
    expect(scrubSecrets(clean)).toBe(clean);
    const dirty = { user: { password: 'p' } };
    const out = scrubSecrets(dirty);
    expect(out).toEqual({ user: { password: '[Redacted]' } });
    expect(dirty.user.password).toBe('p');
  });

  it('copes with cycles and very deep objects', () => {
    const cyclic: Record<string, unknown> = { name: 'x' };
    cyclic.self = cyclic;
    expect(() => scrubSecrets(cyclic)).not.toThrow();
    let deep: Record<string, unknown> = { password: 'p' };
    for (let i = 0; i < 1000; i++) deep = { next: deep };
    expect(() => scrubSecrets(deep)).not.toThrow();
  });
});

describe('the catalogue of log messages', () => {
  // The README's Troubleshooting quotes these word for word: users grep their logs for them.
  const QUOTED_IN_README = [
    'sessionRestored',
    'recoveryAttempt',
    'recoverySucceeded',
    'recoveryFailed',
    'authStateTooOld',
    'sessionExpired',
    'savedAtInFuture',
    'authStateWithoutSession',
    'sessionFromBackup',
    'noUsableSession',
    'sessionOfAnotherEnvironment',
    'sessionRevoked',
    'telegramUnreachable',
    'connectionRestored',
    'floodWait',
    'loginStepWentThrough',
    'writableAgain',
    'qrCodeReady',
    'qrScanned',
    'qrLoggedIn',
    'qrRestored',
    'futureTokenLogin',
    'futureTokensRefused',
    'futureTokensNotWritten',
    'duplicateUpdateDropped',
    'journalWriteFailed',
    'journalWritableAgain',
    'journalOverflow',
    'journalTornWriteCut',
    'journalUnavailable',
    'updateNotAnEvent',
    'webhookDeliveryFailed',
    'webhookReachableAgain',
    'webhookEventsExpired',
    'streamCutOff',
  ] as const;

  it('holds the seed four lines word for word', () => {
    expect([LOG_MESSAGES.sessionRestored, LOG_MESSAGES.recoveryAttempt, LOG_MESSAGES.recoverySucceeded, LOG_MESSAGES.recoveryFailed]).toEqual([
      'Session restored successfully from persistent state',
      'Attempting session recovery',
      'Session recovery successful',
      'Session recovery failed, clearing auth state',
    ]);
  });

  it('says what the README quotes', () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' '); // lines wrap inside quotes
    const missing = QUOTED_IN_README.filter((key) => !readme.includes(`"${LOG_MESSAGES[key]}"`));
    expect(missing).toEqual([]);
    expect(readme).toContain(LOG_MESSAGES.singleAccountLayoutMoved('default'));
    expect(readme).toContain(`"${LOG_MESSAGES.fileLostWhileRunning('session.json', 'was removed')}"`);
  });
});
