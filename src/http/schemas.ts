/** JSON schemas of the API's bodies and answers (answers are serialized through them: no field leaks). */
import { ERROR_RESPONSE_SCHEMA } from './errors.js';

const nullableString = { type: ['string', 'null'] } as const;
const nullableInteger = { type: ['integer', 'null'] } as const;

export const PUBLIC_USER_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: nullableString,
    firstName: { type: 'string' },
    lastName: nullableString,
    phone: nullableString,
  },
} as const;

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

export const VERIFY_CODE_RESULT_SCHEMA = {
  type: 'object',
  properties: {
    state: { type: 'string' },
    user: PUBLIC_USER_SCHEMA,
    hint: nullableString,
  },
} as const;

export const LOGGED_OUT_SCHEMA = {
  type: 'object',
  properties: { state: { type: 'string' } },
} as const;

export const STATUS_SCHEMA = {
  type: 'object',
  properties: {
    state: { type: 'string' },
    authenticated: { type: 'boolean' },
    environment: { type: 'string' },
    user: { anyOf: [PUBLIC_USER_SCHEMA, { type: 'null' }] },
    session: {
      type: 'object',
      properties: {
        restored: { type: 'boolean' },
        savedAt: nullableString,
        expiresAt: nullableString,
        validation: nullableString,
        lastValidatedAt: nullableString,
        connection: { type: 'string' },
      },
    },
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
  },
} as const;

/** Responses of an /api route: its success body plus the error shape for every 4xx/5xx. */
export function apiResponses(success: object): Record<string, object> {
  return { 200: success, '4xx': ERROR_RESPONSE_SCHEMA, '5xx': ERROR_RESPONSE_SCHEMA };
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
