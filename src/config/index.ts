export type { Config } from './types.js';
export { loadConfig, DEFAULTS, SANDBOX_API_ID, SANDBOX_API_HASH } from './load-config.js';
export type { Env, ParsedConfig } from './load-config.js';
export { resolveConfig } from './resolve-config.js';
export type { ResolvedConfig } from './resolve-config.js';
export { readDotEnv, mergeEnv } from './env-file.js';
export { resolveApiToken, existingApiToken, API_TOKEN_FILE_NAME } from './api-token.js';
export { parseDuration, formatDuration } from './duration.js';
export { ConfigError, CONFIG_ERROR_EXIT_CODE } from './problems.js';
