export { buildApp, BODY_LIMIT_BYTES } from './app.js';
export { LazySchemas } from './lazy-schemas.js';
export type { BuildAppOptions } from './app.js';
export { errorBody, HttpError, ERROR_RESPONSE_SCHEMA } from './errors.js';
export type { ErrorBody } from './errors.js';
export { describeError } from './plugins/error-handling.js';
export { DEFAULT_LOGIN_RATE_LIMIT } from './plugins/login-rate-limit.js';
export type { LoginRateLimit } from './plugins/login-rate-limit.js';
export { normalizePhone, normalizeCode } from './input.js';
