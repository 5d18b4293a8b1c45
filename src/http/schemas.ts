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

/** A webhook's delivery state (events/webhook-delivery.ts WebhookView). */
const WEBHOOK_PROPERTIES = {
  url: { type: 'string' },
  setBy: { type: 'string' },
  createdAt: { type: 'string' },
  lastDeliveredId: { type: 'integer' },
  backlog: { type: 'integer' },
  lastDeliveredAt: nullableString,
  lastError: { type: ['object', 'null'], properties: { message: { type: 'string' }, at: { type: 'string' }, status: { type: 'integer' } } },
  failures: { type: 'integer' },
  nextAttemptAt: nullableString,
  expiredUndelivered: { type: 'integer' },
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

/** An account's status: the same body plus its id, its event journal and its webhook delivery. */
export const ACCOUNT_STATUS_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    ...STATUS_PROPERTIES,
    events: {
      type: 'object',
      properties: {
        firstId: { type: 'integer' },
        lastId: { type: 'integer' },
        pending: { type: 'integer' },
        error: { type: 'object', properties: { message: { type: 'string' }, at: { type: 'string' } } },
      },
    },
    webhook: { type: ['object', 'null'], properties: WEBHOOK_PROPERTIES },
  },
} as const;

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

// ───────────────────────────── the account API, events, webhook ─────────────────────────────

/** The one shape of a message (src/events/types.ts MessageJson). */
export const MESSAGE_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    peer: { type: 'integer', description: 'The chat: a user id, or a marked group/channel id' },
    from: nullableInteger,
    date: { type: 'string', description: 'ISO 8601' },
    text: { type: 'string' },
    replyTo: nullableInteger,
    out: { type: 'boolean' },
  },
} as const;

const PEER_PARAM = { type: 'string', minLength: 1, maxLength: 64, description: '`me`, a numeric id or `@username`' } as const;
/** In a JSON body a numeric id may also come as a number (`"peer": 700000002`). */
const BODY_PEER = {
  anyOf: [PEER_PARAM, { type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }],
  description: '`me`, a numeric id (as a string or a number) or `@username`',
} as const;
const COUNT = (max: number) => ({ type: 'string', pattern: `^[0-9]{1,${String(max).length}}$` }) as const;
const MESSAGE_ID = { type: 'integer', minimum: 1, maximum: 2147483647 } as const;

export const DIALOGS_QUERY = {
  type: 'object',
  properties: { limit: COUNT(100), cursor: { type: 'string', maxLength: 256 } },
  additionalProperties: false,
} as const;

export const DIALOGS_SCHEMA = {
  type: 'object',
  properties: {
    dialogs: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          peer: { type: 'integer' },
          title: { type: 'string' },
          username: nullableString,
          unreadCount: { type: 'integer' },
          lastMessage: { type: ['object', 'null'], properties: MESSAGE_SCHEMA.properties },
        },
      },
    },
    nextCursor: nullableString,
  },
} as const;

export const HISTORY_QUERY = {
  type: 'object',
  properties: { peer: PEER_PARAM, limit: COUNT(100), before: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } },
  required: ['peer'],
  additionalProperties: false,
} as const;

export const HISTORY_SCHEMA = {
  type: 'object',
  properties: { messages: { type: 'array', items: MESSAGE_SCHEMA }, nextBefore: nullableInteger },
} as const;

export const SEND_MESSAGE_BODY = {
  type: 'object',
  properties: { peer: BODY_PEER, text: { type: 'string', minLength: 1, maxLength: 4096 }, replyTo: MESSAGE_ID },
  required: ['peer', 'text'],
  additionalProperties: false,
} as const;

export const READ_BODY = {
  type: 'object',
  properties: { peer: BODY_PEER, maxId: { type: 'integer', minimum: 0, maximum: 2147483647 } },
  required: ['peer', 'maxId'],
  additionalProperties: false,
} as const;

export const READ_SCHEMA = { type: 'object', properties: { peer: { type: 'integer' }, maxId: { type: 'integer' } } } as const;

export const EVENTS_QUERY = {
  type: 'object',
  properties: {
    after: { type: 'string', pattern: '^[0-9]{1,16}$', description: 'Resume after this event id (Last-Event-ID wins)' },
    limit: COUNT(1000),
    wait: { type: 'string', pattern: '^[0-9]{1,2}$', description: 'JSON only: wait up to this many seconds (max 60) for an event' },
  },
  additionalProperties: false,
} as const;

/** An event as delivered: id, type, at, account, then the type's fields (README "Events"). */
const EVENT_SCHEMA = { type: 'object', additionalProperties: true, properties: { id: { type: 'integer' }, type: { type: 'string' }, at: { type: 'string' }, account: { type: 'string' } } } as const;

export const EVENTS_PAGE_SCHEMA = {
  type: 'object',
  properties: {
    events: { type: 'array', items: EVENT_SCHEMA },
    firstId: { type: 'integer' },
    lastId: { type: 'integer' },
    nextAfter: { type: 'integer' },
    expired: { type: 'boolean', description: 'Events after `after` left the journal (retention) before they were read' },
  },
} as const;

export const WEBHOOK_BODY = {
  type: 'object',
  properties: {
    url: { type: 'string', minLength: 1, maxLength: 2048 },
    secret: { type: 'string', minLength: 16, maxLength: 256 },
    after: { type: 'integer', minimum: 0, description: 'Deliver events after this id (default: only new ones)' },
  },
  required: ['url', 'secret'],
  additionalProperties: false,
} as const;

/** A webhook and its delivery state (never the secret), as GET /webhook answers it. */
export const WEBHOOK_SCHEMA = { type: 'object', properties: WEBHOOK_PROPERTIES } as const;
