/**
 * The request generator of the HTTP fuzz run. Each call of `generateRequest` builds one hostile (or,
 * in 'any' mode, possibly valid) request from a seeded PRNG: wrong types, huge and deep bodies, odd
 * unicode (lone surrogates, RTL, NUL, emoji, non-ASCII digits), missing and extra fields, wrong content
 * types, bad JSON, odd methods, paths, query strings and headers, steps out of order, and malformed
 * HTTP on a raw socket.
 *
 * In 'invalid' mode a request is never a valid state-changing step (no valid phone for send-code, never
 * the right code or password, no authenticated POST to logout or resend-code): a fuzz batch in that mode
 * must leave the account exactly in the state it found it.
 */
import path from 'node:path';
import { normalizeCode, normalizePhone } from '../../src/http/input.js';
import type { FuzzRequest } from './fuzz-client.js';
import type { Random } from './fuzz-random.js';

export const ROUTES = {
  sendCode: '/api/telegram/auth/send-code',
  resendCode: '/api/telegram/auth/resend-code',
  verifyCode: '/api/telegram/auth/verify-code',
  verifyPassword: '/api/telegram/auth/verify-password',
  logout: '/api/telegram/auth/logout',
  me: '/api/telegram/me',
  status: '/api/telegram/status',
  healthz: '/healthz',
} as const;

const BODY_ROUTES = [ROUTES.sendCode, ROUTES.verifyCode, ROUTES.verifyPassword] as const;
const ALL_ROUTES = Object.values(ROUTES);
const FIELD_OF: Record<string, string> = {
  [ROUTES.sendCode]: 'phone',
  [ROUTES.verifyCode]: 'code',
  [ROUTES.verifyPassword]: 'password',
};

export interface FuzzContext {
  token: string;
  /** The phones a send-code could log in (never sent in 'invalid' mode). */
  validPhones: string[];
  /** Codes and passwords that would be accepted right now (never sent in 'invalid' mode). */
  secretsToAvoid: () => string[];
  /** The code and password a valid step would carry (used with wrong tokens, and in 'any' mode). */
  rightCode: () => string;
  rightPassword: string;
  mode: 'invalid' | 'any';
}

// ---------- strings and values ----------

const ODD_STRINGS: readonly string[] = [
  '',
  ' ',
  '\t\n\r',
  '\u0000',
  'abc\u0000def',
  '\ud800', // lone high surrogate
  '\udfff', // lone low surrogate
  'x\ud83d', // half an emoji
  '\u202e1234\u202c', // RTL override
  '\u200f\u200e\u061c', // RLM, LRM, ALM
  'שלום עולם',
  'مرحبا',
  '😀🔥💯',
  '👩‍👩‍👧‍👦',
  'e\u0301\u0301\u0301',
  '\ufeff',
  '\uffff\ufffe',
  '\u2028\u2029',
  '２２２２２', // full-width digits
  '٢٢٢٢٢', // Arabic-Indic digits
  '²²²²²',
  '+９９９６６２１２３４',
  '+٩٩٩٦٦٢١٢٣٤',
  '%00%ff%2e%2e',
  '${jndi:ldap://x/a}',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '../../../../etc/passwd',
  '{{7*7}}',
  '\\u0000',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e309',
  '0x1F',
  '+',
  '++15551231111',
  '+1 (555) 123-1111 ext 9',
  '15551231111'.repeat(3),
  '22 22 2', // digits with separators (normalized: a code of 5 digits)
  '2-2-2-2-2',
  '00000',
  '99999',
  '1'.repeat(17),
  'a'.repeat(33),
  'a'.repeat(1025),
  'ü'.repeat(600),
];

function oddString(random: Random): string {
  if (random.bool(0.7)) return random.pick(ODD_STRINGS);
  // A random mix of pieces, code points anywhere in the BMP and beyond (surrogate halves included).
  const parts: string[] = [];
  const count = random.int(1, 12);
  for (let i = 0; i < count; i++) {
    const roll = random.next();
    if (roll < 0.3) parts.push(random.pick(ODD_STRINGS));
    else if (roll < 0.6) parts.push(String.fromCharCode(random.int(0, 0xffff)));
    else if (roll < 0.8) parts.push(String.fromCodePoint(random.int(0x10000, 0x10ffff)));
    else parts.push(String(random.int(0, 99999)));
  }
  return parts.join('');
}

function oddNumber(random: Random): number {
  return random.pick([0, -0, 1, -1, 22222, 9996621234, 2 ** 53, -(2 ** 53), 1e308, -1e308, 5e-324, 0.5, Number.MAX_SAFE_INTEGER + 2]);
}

function oddValue(random: Random, depth = 0): unknown {
  const kind = random.weighted<string>([
    [3, 'string'],
    [2, 'number'],
    [1, 'bool'],
    [1, 'null'],
    [depth < 4 ? 1 : 0, 'array'],
    [depth < 4 ? 1 : 0, 'object'],
  ]);
  switch (kind) {
    case 'string':
      return oddString(random);
    case 'number':
      return oddNumber(random);
    case 'bool':
      return random.bool();
    case 'null':
      return null;
    case 'array':
      return Array.from({ length: random.int(0, 4) }, () => oddValue(random, depth + 1));
    default: {
      const obj: Record<string, unknown> = {};
      for (let i = random.int(0, 4); i > 0; i--) obj[oddFieldName(random)] = oddValue(random, depth + 1);
      return obj;
    }
  }
}

function oddFieldName(random: Random): string {
  return random.pick(['phone', 'code', 'password', 'Phone', 'PHONE', 'phone ', ' code', 'pass\u0000word', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', 'x', '😀', '\u202ephone', 'phone_number', 'phoneNumber', 'extra']);
}

/** Whether a body value could be a valid step: a phone that normalizes, the right code, the right password. */
function valueIsRisky(route: string, value: unknown, ctx: FuzzContext): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const field = (value as Record<string, unknown>)[FIELD_OF[route] ?? ''];
  if (typeof field !== 'string') return false;
  if (route === ROUTES.sendCode) {
    try {
      normalizePhone(field);
      return true; // any valid phone may start a login
    } catch {
      return false;
    }
  }
  const avoid = ctx.secretsToAvoid();
  if (route === ROUTES.verifyCode) {
    try {
      return avoid.includes(normalizeCode(field));
    } catch {
      return false;
    }
  }
  return avoid.includes(field);
}

/** The body value for a body route: the field wrong in some way, or extra/missing fields, or not an object. */
function bodyValue(random: Random, route: string): unknown {
  const field = FIELD_OF[route]!;
  return random.weighted<() => unknown>([
    [5, () => ({ [field]: oddValue(random) })],
    [3, () => ({ [field]: oddString(random) })],
    [2, () => ({ [field]: oddString(random), [oddFieldName(random)]: oddValue(random) })],
    [1, () => ({})],
    [1, () => ({ [oddFieldName(random)]: oddValue(random) })],
    [1, () => oddValue(random)],
    [1, () => [{ [field]: '22222' }]],
    [1, () => ({ [field]: [oddString(random)] })],
    [1, () => ({ [field]: { toString: '22222', valueOf: 22222 } })],
    [1, () => ({ [field]: { $gt: '' } })],
    // Plausible-looking values: digits, phone-ish strings, wrong passwords.
    [3, () => ({ [field]: plausible(random, field) })],
  ])();
}

function plausible(random: Random, field: string): string {
  if (field === 'phone') return random.pick(['+', '+1', '+0', '+99966', '999', '+12345678901234567', 'tel:+15551231111', '+1-555-CALL-NOW']);
  if (field === 'code') return String(random.int(0, 99999)).padStart(random.int(1, 6), '0');
  return random.pick(['password', 'hunter2', 'wrong-password', ' ', 'p'.repeat(1024)]);
}

// ---------- headers ----------

function authHeader(random: Random, token: string): { value: string | string[] | undefined } {
  const wrongLast = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
  const wrongFirst = (token.startsWith('A') ? 'B' : 'A') + token.slice(1);
  return {
    value: random.weighted<string | string[] | undefined>([
      [6, `Bearer ${token}`],
      [1, undefined],
      [1, ''],
      [1, 'Bearer'],
      [1, 'Bearer '],
      [1, `Bearer ${wrongLast}`],
      [1, `Bearer ${wrongFirst}`],
      [1, `Bearer ${token.toUpperCase()}`],
      [1, `Bearer ${token}x`],
      [1, `Bearer ${token.slice(0, -1)}`],
      [1, `Bearer ${token} ${token}`],
      [1, `Basic ${Buffer.from(`user:${token}`).toString('base64')}`],
      [1, `Token ${token}`],
      [1, token],
      [1, `bearer\t${token}`],
      [1, `Bearer  ${token}  `],
      [1, `Bearer ${'A'.repeat(random.int(1, 4000))}`],
      [1, [`Bearer ${wrongLast}`, `Bearer ${token}`]],
      [1, `Bearer ${token}\u00ff`],
    ]),
  };
}

function extraHeaders(random: Random): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (let i = random.int(0, 4); i > 0; i--) {
    const [name, value] = random.pick<[string, string | string[]]>([
      ['x-forwarded-for', '1.2.3.4, 5.6.7.8'],
      ['x-real-ip', '::1'],
      ['forwarded', 'for=unknown;proto=https'],
      ['accept', random.pick(['*/*', 'text/html', 'application/xml', 'application/json;q=0', ''])],
      ['accept-encoding', random.pick(['gzip, br, zstd', 'identity;q=0', '*;q=0'])],
      ['accept-language', 'he-IL,ar;q=0.9'],
      ['cookie', 'session=abc; token=def'],
      ['origin', 'null'],
      ['x-http-method-override', 'DELETE'],
      ['x-api-token', 'x'.repeat(40)],
      ['if-none-match', '*'],
      ['range', 'bytes=0-1'],
      ['expect', '100-continue'],
      ['te', 'trailers'],
      ['user-agent', '\u00ff'.repeat(random.int(1, 200))],
      ['x-long', 'v'.repeat(random.int(1, 8000))],
      ['x-dup', ['a', 'b', 'c']],
      ['content-encoding', random.pick(['gzip', 'br', 'deflate', 'bogus'])],
    ]);
    headers[name] = value;
  }
  return headers;
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json;;;',
  'application/json, text/plain',
  'application/jsonx',
  'application/vnd.api+json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'text/plain',
  'text/json',
  'application/octet-stream',
  'application/xml',
  '*/*',
  '',
  ';',
  'application/json; boundary=' + 'b'.repeat(2000),
];

// ---------- paths ----------

function pathVariant(random: Random, route: string): string {
  return random.weighted<() => string>([
    [4, () => route],
    [2, () => `${route}?${queryString(random)}`],
    [1, () => `${route}/`],
    [1, () => route.toUpperCase()],
    [1, () => `/${route}`],
    [1, () => route.replace('/api/', '/api//')],
    [1, () => route.replace('telegram', '%74elegram')],
    [1, () => route.replace('telegram', 'telegram%2f..%2ftelegram')],
    [1, () => `${route}/..`],
    [1, () => `${route}%00`],
    [1, () => `${route}%`],
    [1, () => `${route}%zz`],
    [1, () => `${route};jsessionid=1`],
    [1, () => `${route}#frag`],
    [1, () => `/api/telegram/${encodeURIComponent(wellFormed(oddString(random))).slice(0, 300)}`],
    [1, () => `/api/${'a/'.repeat(random.int(1, 500))}`],
    [1, () => `/${'x'.repeat(random.int(100, 6000))}`],
    [1, () => '/api'],
    [1, () => '/api/'],
    [1, () => '/'],
    [1, () => '*'],
    [1, () => `/api/telegram/auth/${random.pick(['SEND-CODE', 'send_code', 'sendCode', 'send-code.json', 'logout/now', 'verify'])}`],
  ])();
}

function queryString(random: Random): string {
  return random.pick([
    'phone=%2B9996621234',
    'code=22222&code=11111',
    '__proto__[polluted]=1',
    'constructor[prototype][x]=1',
    'a[b][c][d][e]=1',
    '%zz=%zz',
    'x=%00',
    ';;;&&&===',
    'q=' + 'x'.repeat(random.int(1, 8000)),
    'emoji=😀'.replace('😀', '%F0%9F%98%80'),
    'rtl=%E2%80%AE',
    'lone=%ED%A0%80',
    'token=abc',
    '',
  ]);
}

const ODD_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'MKCOL', 'LOCK', 'SEARCH', 'PURGE', 'REPORT', 'QUERY', 'LINK', 'FOO', 'M-SEARCH', 'SOURCE'];

// ---------- bad JSON and raw bodies ----------

function badJsonBody(random: Random): Buffer {
  const text = random.pick<() => string | Buffer>([
    () => '{"phone":',
    () => '{"code": "1"',
    () => '{"code": "1"}}',
    () => "{'code': '1'}",
    () => '{code: 1}',
    () => '{"code": NaN}',
    () => '{"code": Infinity}',
    () => '{"code": 01}',
    () => '{"code": "1",}',
    () => '{"code": "1" /* c */}',
    () => '{"code": "1"} // c',
    () => '\ufeff{"code": "1"}',
    () => '{"code": "a\u0000b"}', // raw control char inside a string
    () => '{"code": "\\ud800"}', // escaped lone surrogate
    () => '{"password": "\\udfff\\ud800"}',
    () => '{"code": "\\u0000"}',
    () => '{"code": "\\x41"}',
    () => '{"phone":"x","phone":"y"}',
    () => '{"__proto__": {"admin": true}, "code": "1"}',
    () => '{"constructor": {"prototype": {"admin": true}}}',
    () => '{"a": ' + '1'.repeat(5000) + '}',
    () => '{"a": 1e99999}',
    () => '[' + '1,'.repeat(3000) + '1]',
    () => '['.repeat(random.int(100, 8000)) + ']'.repeat(random.int(0, 8000)),
    () => '{"a":'.repeat(random.int(100, 3000)) + '1' + '}'.repeat(random.int(0, 3000)),
    () => '"' + 'x'.repeat(1000) + '"',
    () => 'null',
    () => 'true',
    () => '0',
    () => '[]',
    () => '',
    () => ' ',
    () => '\n\n',
    () => 'phone=%2B9996621234',
    () => '<xml/>',
    () => Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]), // UTF-16 LE BOM + {}
    () => Buffer.from([0x7b, 0x22, 0x63, 0x6f, 0x64, 0x65, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), // CESU lone surrogate
    () => Buffer.from([0x7b, 0x22, 0x63, 0x6f, 0x64, 0x65, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0xff, 0x22, 0x7d]), // overlong / invalid UTF-8
    () => Buffer.from(Array.from({ length: random.int(1, 2000) }, () => random.int(0, 255))),
  ])();
  return typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
}

// ---------- raw socket requests ----------

function rawRequest(random: Random, ctx: FuzzContext): FuzzRequest {
  const token = ctx.token;
  const wrong = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
  const L = (s: string) => Buffer.from(s, 'latin1');
  const U = (s: string) => Buffer.from(s, 'utf8');
  const templates: Array<() => { label: string; bytes: Buffer; mayDrop?: boolean }> = [
    () => ({ label: 'raw baseline wrong token', bytes: L(`GET /api/telegram/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${wrong}\r\nConnection: close\r\n\r\n`) }),
    () => ({ label: 'raw garbage line', bytes: L('GARBAGE\r\n\r\n') }),
    () => ({ label: 'raw binary', bytes: Buffer.from(Array.from({ length: random.int(1, 300) }, () => random.int(0, 255))), mayDrop: true }),
    () => ({ label: 'raw control bytes', bytes: L('\x00\x01\x02\x03\r\n\r\n') }),
    () => ({ label: 'raw HTTP/9.9', bytes: L('GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n') }),
    () => ({ label: 'raw lowercase method', bytes: L('get /healthz HTTP/1.1\r\nHost: x\r\n\r\n') }),
    () => ({ label: 'raw HTTP/2 preface', bytes: L('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n') }),
    () => ({ label: 'raw space in path', bytes: L('GET /api/telegram/st atus HTTP/1.1\r\nHost: x\r\n\r\n') }),
    () => ({ label: 'raw NUL in path', bytes: L('GET /api/telegram/status\x00 HTTP/1.1\r\nHost: x\r\n\r\n') }),
    () => ({ label: 'raw UTF-8 path', bytes: U(`GET /api/télégram/stätus😀 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`) }),
    () => ({ label: 'raw RTL path', bytes: U(`GET /api/telegram/\u202estatus HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`) }),
    () => ({ label: 'raw header without colon', bytes: L('GET /healthz HTTP/1.1\r\nHost x\r\n\r\n') }),
    () => ({ label: 'raw NUL in header', bytes: L(`GET /api/telegram/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\x00\r\n\r\n`) }),
    () => ({ label: 'raw obs-fold', bytes: L(`GET /api/telegram/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n ${token}\r\nConnection: close\r\n\r\n`) }),
    () => ({ label: 'raw UTF-8 token', bytes: U(`GET /api/telegram/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token.slice(0, -1)}ü\r\nConnection: close\r\n\r\n`) }),
    () => ({ label: 'raw emoji token', bytes: U(`GET /api/telegram/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer 😀${token}\r\nConnection: close\r\n\r\n`) }),
    () => ({ label: 'raw huge header', bytes: L(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(random.int(17_000, 70_000))}\r\n\r\n`) }),
    () => ({ label: 'raw many headers', bytes: L(`GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\nConnection: close\r\n\r\n`) }),
    () => ({ label: 'raw body shorter than Content-Length', bytes: L(`POST ${ROUTES.verifyCode} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"code":`), mayDrop: true }),
    () => ({ label: 'raw body longer than Content-Length', bytes: L(`POST ${ROUTES.verifyCode} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"code":"1"}`) }),
    () => ({ label: 'raw Content-Length + chunked', bytes: L(`POST ${ROUTES.sendCode} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`) }),
    () => ({ label: 'raw bad chunk', bytes: L(`POST ${ROUTES.sendCode} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n`) }),
    () => ({ label: 'raw chunked body', bytes: L(`POST ${ROUTES.verifyCode} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{"cod\r\n8\r\ne":"ab"}\r\n0\r\n\r\n`) }),
    () => ({ label: 'raw chunk over limit', bytes: L(`POST ${ROUTES.verifyCode} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${(40_000).toString(16)}\r\n${'{'.repeat(40_000)}\r\n0\r\n\r\n`), mayDrop: true }),
    () => ({ label: 'raw Content-Length not a number', bytes: L(`POST ${ROUTES.sendCode} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n`) }),
    () => ({ label: 'raw Content-Length negative', bytes: L(`POST ${ROUTES.sendCode} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n`) }),
    () => ({ label: 'raw two Content-Lengths', bytes: L(`POST ${ROUTES.sendCode} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`) }),
    () => ({ label: 'raw huge Content-Length', bytes: L(`POST ${ROUTES.verifyCode} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{}`), mayDrop: true }),
    () => ({ label: 'raw absolute-form URL', bytes: L(`GET http://example.invalid/api/telegram/status HTTP/1.1\r\nHost: example.invalid\r\nAuthorization: Bearer ${wrong}\r\nConnection: close\r\n\r\n`) }),
    () => ({ label: 'raw OPTIONS *', bytes: L('OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n') }),
    () => ({ label: 'raw CONNECT', bytes: L('CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n'), mayDrop: true }),
    () => ({ label: 'raw Upgrade', bytes: L('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'), mayDrop: true }),
    () => ({ label: 'raw HTTP/1.0 without Host', bytes: L('GET /healthz HTTP/1.0\r\n\r\n') }),
    () => ({ label: 'raw HTTP/1.1 without Host', bytes: L('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n') }),
    () => ({ label: 'raw two Hosts', bytes: L('GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n') }),
    () => ({ label: 'raw empty lines', bytes: L('\r\n\r\n\r\n'), mayDrop: true }),
    () => ({ label: 'raw cut request line', bytes: L('GET /healthz HTTP/1.1\r\nHo'), mayDrop: true }),
    () => ({ label: 'raw header name with space', bytes: L('GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n') }),
    () => ({ label: 'raw long URL', bytes: L(`GET /${'u'.repeat(random.int(17_000, 40_000))} HTTP/1.1\r\nHost: x\r\n\r\n`) }),
    () => ({
      label: 'raw pipelined',
      bytes: L(
        `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n` +
          `POST ${ROUTES.logout} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${wrong}\r\nContent-Length: 0\r\n\r\n` +
          `GET /api/telegram/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
      ),
    }),
    () => ({ label: 'raw expect 100-continue', bytes: L(`POST ${ROUTES.verifyPassword} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${wrong}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{"password":"x"}`) }),
    () => ({ label: 'raw invalid UTF-8 body', bytes: Buffer.concat([L(`POST ${ROUTES.verifyPassword} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 18\r\nConnection: close\r\n\r\n{"password":"`), Buffer.from([0xed, 0xa0, 0x80, 0xff]), L('"}')]) }),
    () => ({ label: 'raw empty JSON body', bytes: L(`POST ${ROUTES.sendCode} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`) }),
  ];
  const template = random.pick(templates)();
  return { kind: 'raw', label: template.label, raw: template.bytes, ...(template.mayDrop ? { mayDrop: true } : {}) };
}

// ---------- the generator ----------

type Category = 'body' | 'badJson' | 'huge' | 'contentType' | 'method' | 'path' | 'headers' | 'auth' | 'outOfOrder' | 'raw';

const CATEGORIES: ReadonlyArray<readonly [number, Category]> = [
  [30, 'body'],
  [10, 'badJson'],
  [3, 'huge'],
  [7, 'contentType'],
  [7, 'method'],
  [10, 'path'],
  [7, 'headers'],
  [8, 'auth'],
  [8, 'outOfOrder'],
  [7, 'raw'],
];

export function generateRequest(random: Random, ctx: FuzzContext): FuzzRequest & { category: Category } {
  for (let attempt = 0; ; attempt++) {
    const category = random.weighted(CATEGORIES);
    const req = build(random, ctx, category);
    if (ctx.mode === 'invalid' && (req.risky || mayChangeState(req, ctx))) {
      if (attempt > 50) throw new Error('generator cannot find an invalid request');
      continue;
    }
    return { ...req, category };
  }
}

function jsonRequest(route: string, value: unknown, token: string, headers: Record<string, string | string[]> = {}): FuzzRequest {
  return {
    kind: 'http',
    label: '',
    method: 'POST',
    path: route,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: Buffer.from(JSON.stringify(value) ?? 'null', 'utf8'),
  };
}

function build(random: Random, ctx: FuzzContext, category: Category): FuzzRequest {
  const { token } = ctx;
  switch (category) {
    case 'body': {
      const route = random.pick(BODY_ROUTES);
      const value = bodyValue(random, route);
      return { ...jsonRequest(route, value, token), label: `body ${route} ${short(value)}`, risky: valueIsRisky(route, value, ctx) };
    }
    case 'badJson': {
      const route = random.pick(BODY_ROUTES);
      const body = badJsonBody(random);
      return { ...jsonRequest(route, null, token), body, label: `bad JSON ${route} ${short(body.toString('latin1'))}` };
    }
    case 'huge': {
      const route = random.pick(BODY_ROUTES);
      const size = random.weighted([
        [6, random.int(16 * 1024 - 64, 16 * 1024 + 64)],
        [3, random.int(20_000, 200_000)],
        [1, random.int(1_000_000, 2_000_000)],
      ]);
      const field = FIELD_OF[route]!;
      const filler = random.pick(['x', '😀', '\u202e', '\\u0000', '9']);
      const text = `{"${field}":"${filler.repeat(Math.ceil(size / Buffer.byteLength(filler)))}"}`;
      return {
        ...jsonRequest(route, null, token),
        body: Buffer.from(text, 'utf8'),
        label: `huge body ${route} ${size} bytes of ${JSON.stringify(filler)}`,
        mayResetWhileSending: size > 16 * 1024,
      };
    }
    case 'contentType': {
      const route = random.pick(BODY_ROUTES);
      const value = bodyValue(random, route);
      const contentType = random.pick(CONTENT_TYPES);
      const req = jsonRequest(route, value, token, { 'content-type': contentType });
      if (random.bool(0.2)) delete req.headers!['content-type'];
      return { ...req, label: `content-type ${JSON.stringify(contentType)} ${route}`, risky: valueIsRisky(route, value, ctx) };
    }
    case 'method': {
      const route = random.pick(ALL_ROUTES);
      const method = random.pick(ODD_METHODS);
      const withBody = method !== 'GET' && method !== 'HEAD' && random.bool(0.5);
      const value = withBody ? bodyValue(random, BODY_ROUTES.includes(route as never) ? route : ROUTES.sendCode) : undefined;
      return {
        kind: 'http',
        label: `method ${method} ${route}`,
        method,
        path: route,
        headers: { authorization: `Bearer ${token}`, ...(withBody ? { 'content-type': 'application/json' } : {}) },
        ...(withBody ? { body: Buffer.from(JSON.stringify(value)) } : {}),
        risky: withBody ? valueIsRisky(route, value, ctx) : false,
      };
    }
    case 'path': {
      const route = random.pick(ALL_ROUTES);
      const method = random.pick(['GET', 'POST', 'GET', 'POST', 'HEAD', 'DELETE']);
      const p = pathVariant(random, route);
      const value = method === 'POST' && BODY_ROUTES.includes(route as never) ? bodyValue(random, route) : undefined;
      return {
        kind: 'http',
        label: `path ${method} ${short(p)}`,
        method,
        path: p,
        headers: { authorization: `Bearer ${token}`, ...(value !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(value !== undefined ? { body: Buffer.from(JSON.stringify(value)) } : {}),
        risky: value !== undefined ? valueIsRisky(route, value, ctx) : false,
      };
    }
    case 'headers': {
      const route = random.pick(ALL_ROUTES);
      const method = BODY_ROUTES.includes(route as never) || route === ROUTES.logout || route === ROUTES.resendCode ? 'POST' : 'GET';
      const value = BODY_ROUTES.includes(route as never) ? bodyValue(random, route) : undefined;
      const headers = { authorization: `Bearer ${token}`, ...extraHeaders(random), ...(value !== undefined ? { 'content-type': 'application/json' } : {}) };
      return {
        kind: 'http',
        label: `headers ${method} ${route} ${Object.keys(headers).join(',')}`,
        method,
        path: route,
        headers,
        ...(value !== undefined ? { body: Buffer.from(JSON.stringify(value)) } : {}),
        risky: value !== undefined ? valueIsRisky(route, value, ctx) : false,
      };
    }
    case 'auth': {
      const route = random.pick(ALL_ROUTES);
      const method = route === ROUTES.me || route === ROUTES.status || route === ROUTES.healthz ? 'GET' : 'POST';
      // A valid body, so only the token stands between the request and the account.
      const value =
        route === ROUTES.sendCode ? { phone: random.pick(ctx.validPhones) }
        : route === ROUTES.verifyCode ? { code: ctx.rightCode() }
        : route === ROUTES.verifyPassword ? { password: ctx.rightPassword }
        : undefined;
      const auth = authHeader(random, token).value;
      const headers: Record<string, string | string[]> = value !== undefined ? { 'content-type': 'application/json' } : {};
      if (auth !== undefined) headers.authorization = auth;
      return {
        kind: 'http',
        label: `auth ${method} ${route} ${JSON.stringify(auth === undefined ? 'none' : auth).replace(token, '<token>').slice(0, 80)}`,
        method,
        path: route,
        headers,
        ...(value !== undefined ? { body: Buffer.from(JSON.stringify(value)) } : {}),
        // Only the exactly-right token (any scheme case, any spacing) is accepted; anything close to it is risky.
        risky: headerMayCarryToken(headers.authorization, token) && value !== undefined,
      };
    }
    case 'outOfOrder': {
      // Well-formed steps that only the account's state makes valid or not.
      const route = random.pick([ROUTES.verifyCode, ROUTES.verifyPassword, ROUTES.resendCode, ROUTES.sendCode, ROUTES.logout, ROUTES.me]);
      const value =
        route === ROUTES.verifyCode ? { code: String(random.int(10000, 99999)) }
        : route === ROUTES.verifyPassword ? { password: `wrong-${random.int(0, 1e6)}` }
        : route === ROUTES.sendCode ? { phone: random.pick(ctx.validPhones) }
        : undefined;
      const method = route === ROUTES.me ? 'GET' : 'POST';
      return {
        ...(value !== undefined ? jsonRequest(route, value, token) : { kind: 'http', method, path: route, headers: { authorization: `Bearer ${token}` } }),
        label: `step ${route} ${short(value)}`,
        risky: route === ROUTES.resendCode || route === ROUTES.logout || (value !== undefined && valueIsRisky(route, value, ctx)),
      };
    }
    case 'raw':
      return rawRequest(random, ctx);
  }
}

function headerMayCarryToken(value: string | string[] | undefined, token: string): boolean {
  if (value === undefined) return false;
  return (Array.isArray(value) ? value : [value]).some((v) => v.includes(token));
}

const STATE_CHANGING = new Set([ROUTES.logout, ROUTES.resendCode].map((r) => r.toLowerCase()));

/**
 * Conservatively, whether the router could take this request to logout or resend-code with the right
 * token (decoded, query cut at ? # or ;, dot segments and doubled slashes folded, any case).
 */
function mayChangeState(req: FuzzRequest, ctx: FuzzContext): boolean {
  if (req.kind !== 'http' || req.method !== 'POST') return false;
  const auth = Object.entries(req.headers ?? {}).filter(([k]) => k.toLowerCase() === 'authorization');
  if (!auth.some(([, v]) => headerMayCarryToken(v, ctx.token))) return false;
  let p = req.path ?? '';
  try {
    p = decodeURIComponent(p);
  } catch {
    // undecodable: compare as is
  }
  p = p.split(/[?#;]/)[0]!.toLowerCase();
  p = path.posix.normalize(p.replace(/\/+/g, '/')).replace(/\/+$/, '');
  return STATE_CHANGING.has(p) || [...STATE_CHANGING].some((r) => p.endsWith(r.slice('/api/telegram'.length)));
}

/** Lone surrogate halves replaced (encodeURIComponent throws on them). */
function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

function short(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…(${text.length})` : text);
}
