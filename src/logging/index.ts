export { createLogger } from './logger.js';
export type { Logger, LoggerOptions } from './logger.js';
export { maskPhone, isMaskedPhone } from './mask-phone.js';
export { scrubSecrets, createSecretScrubber, redactSecretLikeText, REDACT_PATHS, CENSORED } from './redact.js';
