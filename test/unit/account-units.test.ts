/** Pure parts of the account service: backoff delays, mtcute error classification, phone normalisation. */
import { MtTimeoutError, tl } from '@mtcute/core';
import { describe, expect, it } from 'vitest';
import { exponentialDelayMs, fullJitterDelayMs, spreadDelayMs } from '../../src/timing/backoff.js';
import { normalizePhone } from '../../src/account/phone.js';
import { toAccountError } from '../../src/account/telegram-errors.js';
import { redactSecretLikeText as redactSecrets } from '../../src/logging/redact.js';
import { classifyTelegramError } from '../../src/telegram/errors.js';
import { TelegramCallError } from '../../src/telegram/call-error.js';

const rpc = (code: number, text: string): tl.RpcError => tl.RpcError.fromTl({ _: 'mt_rpc_error', errorCode: code, errorMessage: text });

describe('the one backoff rule (timing/backoff.ts)', () => {
  it('base · 2^(n−1), capped; never below the base, never overflowing', () => {
    expect([0, 1, 2, 3, 7].map((n) => exponentialDelayMs(n, 200, 30_000))).toEqual([200, 200, 400, 800, 12_800]);
    expect(exponentialDelayMs(9, 200, 30_000)).toBe(30_000);
    expect(exponentialDelayMs(10_000, 1000, 60_000)).toBe(60_000);
  });

  it('full jitter: uniform below the ceiling', () => {
    expect(fullJitterDelayMs(1, 1000, 60_000, () => 0.999)).toBe(999);
    expect(fullJitterDelayMs(2, 1000, 60_000, () => 0.999)).toBe(1998);
    expect(fullJitterDelayMs(5, 1000, 60_000, () => 0.5)).toBe(8000);
    expect(fullJitterDelayMs(30, 1000, 60_000, () => 0.999)).toBe(59_940);
    expect(fullJitterDelayMs(3, 1000, 60_000, () => 0)).toBe(0);
  });

  it('spread: ±25 % around the exponential delay, at least 1 ms', () => {
    expect(spreadDelayMs(3, 1000, 60_000, () => 0)).toBe(3000);
    expect(spreadDelayMs(3, 1000, 60_000, () => 0.5)).toBe(4000);
    expect(spreadDelayMs(3, 1000, 60_000, () => 1)).toBe(5000);
    expect(spreadDelayMs(1, 1, 60_000, () => 0)).toBe(1);
  });
});

describe('classifyTelegramError', () => {
  it.each([
    [rpc(401, 'AUTH_KEY_UNREGISTERED'), 'auth_key_unregistered'],
    [rpc(401, 'SESSION_REVOKED'), 'revoked'],
    [rpc(401, 'USER_DEACTIVATED'), 'revoked'],
    [rpc(401, 'USER_DEACTIVATED_BAN'), 'revoked'],
    [rpc(406, 'AUTH_KEY_DUPLICATED'), 'revoked'],
    [rpc(401, 'SESSION_EXPIRED'), 'revoked'],
    [rpc(400, 'PHONE_CODE_INVALID'), 'user_input'],
    [rpc(400, 'PASSWORD_HASH_INVALID'), 'user_input'],
    [rpc(500, 'INTERNAL'), 'network'],
    [rpc(-503, 'Timeout'), 'network'],
    [rpc(403, 'CHAT_WRITE_FORBIDDEN'), 'telegram'],
    [new MtTimeoutError(1000), 'network'],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'network'],
    [new DOMException('aborted', 'AbortError'), 'network'],
    [new Error('something else'), 'telegram'],
  ])('%s → %s', (err, kind) => {
    expect(classifyTelegramError(err).kind).toBe(kind);
  });

  it('FLOOD_WAIT_X keeps its seconds (mtcute rewrites the text to FLOOD_WAIT_%d)', () => {
    expect(classifyTelegramError(rpc(420, 'FLOOD_WAIT_42'))).toEqual({ kind: 'flood_wait', text: 'FLOOD_WAIT_42', seconds: 42 });
    expect(classifyTelegramError(rpc(420, 'FLOOD_PREMIUM_WAIT_7'))).toMatchObject({ kind: 'flood_wait', seconds: 7 });
    expect(classifyTelegramError(rpc(420, 'FLOOD_WAIT_0'))).toMatchObject({ kind: 'flood_wait', seconds: 1 });
  });
});

describe('toAccountError', () => {
  const wrap = (err: unknown): TelegramCallError => new TelegramCallError('auth.signIn', classifyTelegramError(err));
  it('maps Telegram refusals to stable codes without secrets', () => {
    expect(toAccountError(wrap(rpc(400, 'PHONE_CODE_INVALID'))).code).toBe('PHONE_CODE_INVALID');
    expect(toAccountError(wrap(rpc(400, 'PHONE_CODE_EXPIRED'))).code).toBe('PHONE_CODE_EXPIRED');
    expect(toAccountError(wrap(rpc(400, 'PHONE_CODE_HASH_EMPTY'))).code).toBe('PHONE_CODE_INVALID');
    expect(toAccountError(wrap(rpc(400, 'PHONE_NUMBER_INVALID'))).code).toBe('PHONE_NUMBER_INVALID');
    expect(toAccountError(wrap(rpc(400, 'PHONE_NUMBER_BANNED'))).code).toBe('PHONE_NUMBER_BANNED');
    expect(toAccountError(wrap(rpc(500, 'INTERNAL'))).code).toBe('TELEGRAM_UNAVAILABLE');
    const flood = toAccountError(wrap(rpc(420, 'FLOOD_WAIT_30')));
    expect(flood.code).toBe('FLOOD_WAIT');
    expect(flood.retryAfterSeconds).toBe(30);
    expect(toAccountError(new Error('boom')).code).toBe('TELEGRAM_ERROR');
  });
});

describe('normalizePhone', () => {
  it('accepts international numbers with separators, refuses anything else', () => {
    expect(normalizePhone('+1 (555) 123-1111')).toBe('+15551231111');
    expect(normalizePhone('9996621234')).toBe('+9996621234');
    expect(normalizePhone('+12')).toBeUndefined();
    expect(normalizePhone('phone')).toBeUndefined();
    expect(normalizePhone('+1555123111122223333')).toBeUndefined();
    expect(normalizePhone(42)).toBeUndefined();
    expect(normalizePhone('+1\u0000555')).toBeUndefined();
  });
});

describe('redactSecrets (mtcute log lines)', () => {
  it('removes long hex and base64 runs', () => {
    const key = 'ab'.repeat(128);
    expect(redactSecrets(`auth key ${key} set`)).toBe('auth key [redacted] set');
    expect(redactSecrets('dc 2 at 127.0.0.1:443')).toBe('dc 2 at 127.0.0.1:443');
  });
});
