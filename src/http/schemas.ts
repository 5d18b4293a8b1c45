/** JSON schemas of the API's bodies and answers (answers are serialized through them: no field leaks). */
import { ACCOUNT_ID_PATTERN } from '../accounts/account-id.js';
import { ERROR_RESPONSE_SCHEMA } from './errors.js';

const nullableString = { type: ['string', 'null'] } as const;
const nullableInteger = { type: ['integer', 'null'] } as const;

const PUBLIC_USER_PROPERTIES = {
  id: { type: 'integer' },
  username: nullableString,
  firstName: { type: 'string' },
  lastName: nullableString,
  phone: nullableString,
} as const;

export const PUBLIC_USER_SCHEMA = { type: 'object', properties: PUBLIC_USER_PROPERTIES } as const;

export const CODE_SENT_SCHEMA = {
  type: 'object',
  properties: {
    state: { type: 'string' },
    phone: { type: 'string' },
    codeType: { type: 'string' },
    codeLength: nullableInteger,
    nextType: nullableString,
    timeout: nullableInteger,
  },
} as const;

const LOGIN_METHOD = {
  type: 'string',
  enum: ['code', 'qr', 'future_auth_token'],
  description: 'How the login finished: a code, a QR code, or a kept future auth token (no code asked)',
} as const;

export const VERIFY_CODE_RESULT_SCHEMA = {
  type: 'object',
  properties: {
    state: { type: 'string' },
    user: PUBLIC_USER_SCHEMA,
    loginMethod: LOGIN_METHOD,
    hint: nullableString,
  },
} as const;

/** send-code: a code was sent — or a kept future auth token logged the account in at once (`authenticated`). */
export const SEND_CODE_RESULT_SCHEMA = {
  type: 'object',
  properties: { ...CODE_SENT_SCHEMA.properties, user: PUBLIC_USER_SCHEMA, loginMethod: LOGIN_METHOD },
} as const;

const QR_CODE_PROPERTIES = {
  state: { type: 'string' },
  url: { type: 'string', description: 'tg://login?token=… — scanned by a logged-in Telegram app (Settings → Devices → Link Desktop Device)' },
  expiresAt: { type: 'string', description: 'When this code expires; a new one is fetched shortly before' },
  svg: { type: 'string', description: 'The QR code of `url` as an SVG image' },
} as const;

/** GET …/auth/qr: the code to scan now. */
export const QR_CODE_SCHEMA = { type: 'object', properties: QR_CODE_PROPERTIES } as const;

/** POST …/auth/qr: the first code (`qr_pending`). */
export const QR_START_SCHEMA = {
  type: 'object',
  properties: { ...QR_CODE_PROPERTIES, user: PUBLIC_USER_SCHEMA, loginMethod: LOGIN_METHOD, hint: nullableString },
} as const;

export const LOGGED_OUT_SCHEMA = {
  type: 'object',
  properties: { state: { type: 'string' } },
} as const;

const STATUS_PROPERTIES = {
  state: { type: 'string' },
  authenticated: { type: 'boolean' },
  environment: { type: 'string' },
  // A type list, not anyOf: anyOf makes the serializer validate every answer to pick a branch.
  user: { type: ['object', 'null'], properties: PUBLIC_USER_PROPERTIES },
  session: {
    type: 'object',
    properties: {
      restored: { type: 'boolean' },
      savedAt: nullableString,
      expiresAt: nullableString,
      validation: nullableString,
      lastValidatedAt: nullableString,
      connection: { type: 'string' },
      loginMethod: { type: ['string', 'null'], enum: ['code', 'qr', 'future_auth_token', null] },
    },
  },
  qr: {
    type: 'object',
    description: 'While qr_pending: the code to scan now (GET …/auth/qr has it as an SVG image too)',
    properties: { url: QR_CODE_PROPERTIES.url, expiresAt: QR_CODE_PROPERTIES.expiresAt },
  },
  hint: { ...nullableString, description: "While password_required: the 2FA password's hint" },
  reason: { type: 'string' },
  floodWaitUntil: { type: 'string' },
  persistenceError: {
    type: 'object',
    properties: {
      file: { type: 'string' },
      code: { type: 'string' },
      message: { type: 'string' },
      at: { type: 'string' },
    },
  },
} as const;

/** The single-account routes' status: the seed service's body, with fields only ever added (loginMethod, qr, hint). */
export const STATUS_SCHEMA = { type: 'object', properties: STATUS_PROPERTIES } as const;

/** An account's status: the same body plus its id. */
export const ACCOUNT_STATUS_SCHEMA = { type: 'object', properties: { id: { type: 'string' }, ...STATUS_PROPERTIES } } as const;

export const ACCOUNT_LIST_SCHEMA = {
  type: 'object',
  properties: {
    accounts: { type: 'array', items: ACCOUNT_STATUS_SCHEMA },
    nextCursor: nullableString,
  },
} as const;

export const CREATE_ACCOUNT_BODY = {
  type: 'object',
  properties: { id: { type: 'string', pattern: ACCOUNT_ID_PATTERN } },
  required: ['id'],
  additionalProperties: false,
} as const;

export const LIST_ACCOUNTS_QUERY = {
  type: 'object',
  properties: {
    limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
    cursor: { type: 'string', maxLength: 128 },
  },
  additionalProperties: false,
} as const;

const TOKEN_PROPERTIES = {
  id: { type: 'string' },
  createdAt: { type: 'string' },
  label: nullableString,
} as const;

export const TOKEN_SCHEMA = { type: 'object', properties: TOKEN_PROPERTIES } as const;

/** Shown once, when the token is made. */
export const ISSUED_TOKEN_SCHEMA = { type: 'object', properties: { ...TOKEN_PROPERTIES, token: { type: 'string' } } } as const;

export const TOKEN_LIST_SCHEMA = { type: 'object', properties: { tokens: { type: 'array', items: TOKEN_SCHEMA } } } as const;

export const ISSUE_TOKEN_BODY = {
  type: ['object', 'null'],
  properties: { label: { type: 'string', minLength: 1, maxLength: 200 } },
  additionalProperties: false,
} as const;

/** Responses of an /api route: its success body plus the error shape for every 4xx/5xx. */
export function apiResponses(success: object, status = 200): Record<string, object> {
  return { [status]: success, '4xx': ERROR_RESPONSE_SCHEMA, '5xx': ERROR_RESPONSE_SCHEMA };
}

export const SEND_CODE_BODY = {
  type: 'object',
  properties: {
    // Spaces, dashes, dots and parentheses are allowed and stripped: "+1 555-123-1111".
    phone: { type: 'string', minLength: 1, maxLength: 32 },
  },
  required: ['phone'],
} as const;

export const VERIFY_CODE_BODY = {
  type: 'object',
  properties: { code: { type: 'string', minLength: 1, maxLength: 32 } },
  required: ['code'],
} as const;

export const VERIFY_PASSWORD_BODY = {
  type: 'object',
  properties: { password: { type: 'string', minLength: 1, maxLength: 1024 } },
  required: ['password'],
} as const;
