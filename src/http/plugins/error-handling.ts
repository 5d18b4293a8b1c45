/**
 * Every failure becomes `{"error": {"code", "message"}}` with a 4xx for anything the client did wrong:
 * schema validation, bad JSON, oversized bodies, unknown routes, rate limits, AccountErrors. Only a
 * genuinely unexpected error is a 500, answered with a generic message and logged in full.
 * Installed on the root instance (error and not-found handlers are inherited by every child scope).
 */
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AccountError } from '../../account/types.js';
import { RegistryError } from '../../accounts/registry.js';
import { HTTP_STATUS_BY_CODE, REGISTRY_STATUS_BY_CODE, RETRY_AFTER_CODES } from '../error-status.js';
import { errorBody, HttpError } from '../errors.js';
import { validationMessage } from '../validation-message.js';

/** Fastify's own 4xx errors → our stable codes. */
const FASTIFY_CODES: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON', message: 'The request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'INVALID_JSON',
    message: 'The request body is empty but Content-Type is application/json',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'BODY_TOO_LARGE', message: 'The request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'Unsupported Content-Type: send application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'INVALID_CONTENT_LENGTH',
    message: 'Content-Length does not match the body',
  },
  FST_ERR_BAD_URL: { status: 400, code: 'BAD_URL', message: 'The request URL is malformed' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'BAD_REQUEST', message: 'The request cannot be routed' },
};

const STATUS_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  411: 'LENGTH_REQUIRED',
  413: 'BODY_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
};

function isAccountError(err: unknown): err is AccountError {
  return (
    err instanceof AccountError ||
    (err instanceof Error && err.name === 'AccountError' && Object.hasOwn(HTTP_STATUS_BY_CODE, (err as AccountError).code))
  );
}

/** What to answer for an error: status, stable code, message (never secrets), and extra headers. */
export function describeError(err: unknown): { status: number; code: string; message: string; headers?: Record<string, string> } {
  if (isAccountError(err)) {
    const status = HTTP_STATUS_BY_CODE[err.code];
    const retryAfter = RETRY_AFTER_CODES.has(err.code) ? Math.max(1, Math.ceil(err.retryAfterSeconds ?? 1)) : undefined;
    return {
      status,
      code: err.code,
      message: err.message,
      ...(retryAfter !== undefined ? { headers: { 'retry-after': String(retryAfter) } } : {}),
    };
  }
  if (err instanceof HttpError) return { status: err.statusCode, code: err.code, message: err.message };
  if (err instanceof RegistryError) return { status: REGISTRY_STATUS_BY_CODE[err.code], code: err.code, message: err.message };

  const fastifyError = err as Partial<FastifyError> | undefined;
  if (fastifyError?.validation) {
    return {
      status: 400,
      code: 'VALIDATION_FAILED',
      message: validationMessage(fastifyError.validation, fastifyError.validationContext),
    };
  }
  const known = fastifyError?.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) return { status: known.status, code: known.code, message: known.message ?? 'Bad request' };

  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 429) return { status, code: 'RATE_LIMITED', message: 'Too many requests, try again later' };
    // Any other client error from Fastify or a plugin (e.g. a JSON body with __proto__): keep the 4xx.
    const code = STATUS_CODES[status] ?? 'BAD_REQUEST';
    const message = err instanceof SyntaxError ? 'The request body is not valid JSON' : 'The request cannot be processed';
    return { status, code: err instanceof SyntaxError ? 'INVALID_JSON' : code, message };
  }
  return { status: 500, code: 'INTERNAL', message: 'Internal server error' };
}

function sendError(reply: FastifyReply, err: unknown, request: FastifyRequest): FastifyReply {
  const { status, code, message, headers } = describeError(err);
  if (status >= 500 && isAccountError(err)) {
    // A classified condition (Telegram unreachable, an rpc_error we do not map): expected, no stack trace.
    request.log.warn({ status, code, method: request.method, route: request.routeOptions.url }, `Request failed: ${code}`);
  } else if (status >= 500) {
    request.log.error({ err, method: request.method, route: request.routeOptions.url }, 'Request failed with an unexpected error');
  } else {
    request.log.debug({ status, code }, 'Request rejected');
  }
  if (headers) reply.headers(headers);
  return reply.code(status).type('application/json; charset=utf-8').send(errorBody(code, message));
}

/** Errors Fastify raises before routing (a malformed URL, …): same JSON shape. */
export function handleFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void sendError(reply, err, request);
}

/**
 * A request Node's HTTP parser rejected (malformed request line, headers too large) or that was not
 * received in full within HTTP_REQUEST_TIMEOUT (408): answered on the raw socket with the same JSON
 * shape, since no Fastify request exists. A connection whose answer already started (an early answer
 * while its body was still arriving) is only closed: a second answer would be garbage to the client.
 */
export function handleClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) return;
  if ((socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'HEADERS_TOO_LARGE', 'The request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'The request was not received in full in time (HTTP_REQUEST_TIMEOUT)']
        : [400, 'BAD_REQUEST', 'The request is malformed'];
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES_TEXT[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

const STATUS_CODES_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * The 404 message names the method but never echoes the path: a path may carry what a client pasted
 * by mistake (a login code, a token), and error bodies and logs hold no secrets.
 */
export function notFoundMessage(method: string): string {
  const shown = /^[A-Z][A-Z-]{0,19}$/.test(method) ? method : 'this method';
  return `No route for ${shown} at this path; see the README for the API's routes`;
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => sendError(reply, err, request));
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).type('application/json; charset=utf-8').send(errorBody('NOT_FOUND', notFoundMessage(request.method))),
  );
}
