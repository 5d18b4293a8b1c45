/**
 * Pure configuration parsing: environment variables (already merged with `.env`) → a validated
 * ParsedConfig, or a ConfigError listing every problem. No file system access here; the few settings
 * that need files (the API token, the external sandbox DC's public key) are finished by resolveConfig().
 */
import path from 'node:path';
import * as z from 'zod';
import type { Config, EventsConfig } from './types.js';
import { parseDuration } from './duration.js';
import { parseByteSize } from './byte-size.js';
import { allowListEntryProblem } from './allow-list.js';
import { ConfigError } from './problems.js';

export type Env = Record<string, string | undefined>;

/** Credentials the built-in sandbox DC accepts; not a secret and not valid at Telegram. */
export const SANDBOX_API_ID = 1;
export const SANDBOX_API_HASH = '00000000000000000000000000000000';

export const DEFAULTS = {
  dataDir: './data',
  host: '127.0.0.1',
  port: 8080,
  /** At most; fewer when the process's open-file limit is lower (see fitConnectionCaps). */
  httpMaxConnections: 1024,
  httpRequestTimeout: '60s',
  sandboxDcPort: 9443,
  sandboxDcMaxConnections: 64,
  sessionMaxIdle: '7d',
  clientReadyTimeout: '15s',
  retryMaxDelay: '60s',
  healthProbeInterval: '30s',
  qrLoginTimeout: '10m',
  validationConcurrency: 8,
  logLevel: 'info',
  logFileName: 'telegram_service.log',
  loginRateLimit: '10/1m',
  eventsMaxSize: '64MB',
  eventsMaxAge: '7d',
  sseHeartbeat: '15s',
  sseSlowClientTimeout: '30s',
  sseMaxStreams: 16,
  webhookTimeout: '10s',
  webhookRetryMax: '5m',
  idempotencyKeyTtl: '24h',
  store: 'files',
  leaseTtl: '6s',
} as const;

/** The events settings when nothing is set (also for a Config built by hand). */
export const DEFAULT_EVENTS_CONFIG: EventsConfig = {
  journalMaxBytes: 64 * 1024 * 1024,
  journalMaxAgeMs: 7 * 86_400_000,
  sseHeartbeatMs: 15_000,
  sseSlowClientTimeoutMs: 30_000,
  sseMaxStreams: 16,
  webhookTimeoutMs: 10_000,
  webhookRetryMaxMs: 300_000,
  webhookAllowedHosts: [],
  idempotencyTtlMs: 86_400_000,
};

/** Everything in Config, with the file-backed parts not yet read. */
export interface ParsedConfig extends Omit<Config, 'apiToken' | 'apiTokenSource' | 'sandbox'> {
  /** API_TOKEN when set in the environment; otherwise resolveConfig() reads or generates DATA_DIR/api_token. */
  apiToken?: string;
  sandbox: {
    port: number;
    maxConnections: number;
    adminPort?: number;
    external?: { host: string; port: number; publicKeyFile: string };
  };
}

/** What loadConfig needs to know about the process (passed in, so that loadConfig stays pure). */
export interface ProcessFacts {
  /** The process's open-file limit (undefined: unknown or unlimited). */
  openFileLimit?: number;
}

/**
 * Open files the service needs besides its connection caps: stdio, the log, session and lock files,
 * libuv, its own MTProto connections (both ends in sandbox mode), the sandbox DC's -429 allowance.
 */
export const RESERVED_FILES = 128;
/** Below this many HTTP connections the API cannot serve a client and its retries. */
const MIN_HTTP_CONNECTIONS = 16;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
const MAX_TIMER_MS = 2_147_483_647; // setTimeout's limit

// ---- one small zod schema per kind of value; messages are written to be read after "NAME: " ----
// Built for each loadConfig() call and dropped after it: zod schema objects are heavy (~1.5 KiB a node); these
// and the store's (src/store/schema-on-demand.ts), kept for the life of the process, cost an idle service ~0.5 MiB.
function settingSchemas() {
  const wholeNumber = z.string().trim().regex(/^\d+$/, { error: 'must be a whole number' }).transform(Number);

  const connectionCapSchema = wholeNumber.pipe(
    z.number().min(1, { error: 'must be at least 1' }).max(1_000_000, { error: 'must be at most 1000000' }),
  );

  const portSchema = (min: number, max = 65535) =>
    wholeNumber.pipe(z.number().min(min, { error: `must be a port number from ${min} to ${max}` }).max(max, {
      error: `must be a port number from ${min} to ${max}`,
    }));

  const durationSchema = (opts: { allowZero: boolean; maxMs?: number }) =>
    z.string().transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration like 0, 90s, 15m, 12h, 7d or milliseconds' });
        return z.NEVER;
      }
      if (ms === 0 && !opts.allowZero) {
        ctx.addIssue({ code: 'custom', message: 'must be greater than 0' });
        return z.NEVER;
      }
      if (opts.maxMs !== undefined && ms > opts.maxMs) {
        ctx.addIssue({ code: 'custom', message: `must be at most ${opts.maxMs} ms (about 24 days)` });
        return z.NEVER;
      }
      return ms;
    });

  const positiveCount = (max: number) =>
    wholeNumber.pipe(z.number().min(1, { error: `must be from 1 to ${max}` }).max(max, { error: `must be from 1 to ${max}` }));

  const booleanFlag = z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['1', '0', 'true', 'false', 'yes', 'no'], { error: 'must be 1 or 0' }))
    .transform((v) => v === '1' || v === 'true' || v === 'yes');

  const apiIdSchema = wholeNumber.pipe(
    z.number().min(1, { error: 'must be a positive whole number' }).max(2 ** 31 - 1, { error: 'is too large' }),
  );

  // Never echo the value of a secret in a message.
  const apiHashSchema = z.string().trim().regex(/^[0-9a-fA-F]{32}$/, { error: 'must be 32 hexadecimal characters' });

  const apiTokenSchema = z
    .string()
    .trim()
    .min(16, { error: 'must be at least 16 characters long' })
    .max(512, { error: 'must be at most 512 characters long' })
    .regex(/^[\x21-\x7e]+$/, { error: 'must be printable ASCII without spaces' });

  const hostSchema = z.string().trim().min(1).max(255).regex(/^[^\s/]+$/, { error: 'must be a host name or IP address' });

  const hostPortSchema = z.string().transform((text, ctx) => {
    // "host:port" or "[v6]:port"
    const match = /^(?:\[([^\]]+)\]|([^:\s[\]]+)):(\d+)$/.exec(text.trim());
    const port = match ? Number(match[3]) : NaN;
    if (!match || !(port >= 1 && port <= 65535)) {
      ctx.addIssue({ code: 'custom', message: 'must be host:port, e.g. 127.0.0.1:9444' });
      return z.NEVER;
    }
    return { host: match[1] ?? match[2]!, port };
  });

  const logLevelSchema = z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }));

  const encryptionKeySchema = z.string().transform((text, ctx) => {
    const value = text.trim();
    let bytes: Buffer | undefined;
    if (/^[0-9a-fA-F]{64}$/.test(value)) bytes = Buffer.from(value, 'hex');
    else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(value)) bytes = Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
    if (!bytes || bytes.length !== 32) {
      ctx.addIssue({ code: 'custom', message: 'must be 32 bytes, as 64 hex characters or base64' });
      return z.NEVER;
    }
    return new Uint8Array(bytes);
  });

  /** `10/1m` (at most 10 requests per minute per client), `0` or `off` = no limit. */
  const rateLimitSchema = z.string().transform((text, ctx) => {
    const value = text.trim().toLowerCase();
    if (value === '0' || value === 'off') return { max: 0, windowMs: 60_000 };
    const match = /^(\d+)\s*\/\s*(\S+)$/.exec(value);
    const windowMs = match ? parseDuration(match[2]!) : undefined;
    if (!match || !windowMs || Number(match[1]) < 1) {
      ctx.addIssue({ code: 'custom', message: 'must be <requests>/<window> like 10/1m, or 0 to turn it off' });
      return z.NEVER;
    }
    return { max: Number(match[1]), windowMs };
  });

  /** `64MB`, `512KB`, `1GB` or bytes; at least 1 MiB (a journal smaller than a few segments cannot keep its promises). */
  const byteSizeSchema = z.string().transform((text, ctx) => {
    const bytes = parseByteSize(text);
    if (bytes === undefined || bytes < 1024 * 1024) {
      ctx.addIssue({ code: 'custom', message: 'must be a size of at least 1MB, like 64MB, 512MB or 2GB' });
      return z.NEVER;
    }
    return bytes;
  });

  /** Comma-separated host names, IP addresses and CIDRs. */
  const allowListSchema = z.string().transform((text, ctx) => {
    const entries = text.split(',').map((e) => e.trim()).filter(Boolean);
    for (const entry of entries) {
      const problem = allowListEntryProblem(entry);
      if (problem) {
        ctx.addIssue({ code: 'custom', message: `must list host names, IP addresses or CIDRs separated by commas: ${problem}` });
        return z.NEVER;
      }
    }
    return entries;
  });

  const storeSchema = z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['files', 'postgres'], { error: 'must be files or postgres' }));

  // Never echo it: the URL usually carries the database password.
  const databaseUrlSchema = z.string().transform((text, ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(text.trim());
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') || !url.hostname) {
      ctx.addIssue({ code: 'custom', message: 'must be a URL like postgres://user:password@host:5432/database' });
      return z.NEVER;
    }
    return text.trim();
  });

  const instanceIdSchema = z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    error: 'must be 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit',
  });

  const httpUrlSchema = z.string().transform((text, ctx) => {
    try {
      const url = new URL(text.trim());
      if (url.protocol === 'http:' || url.protocol === 'https:') return url.toString().replace(/\/$/, '');
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL, e.g. http://10.0.0.5:8080' });
    return z.NEVER;
  });
  return {
    connectionCapSchema, portSchema, durationSchema, positiveCount, booleanFlag, apiIdSchema, apiHashSchema,
    apiTokenSchema, hostSchema, hostPortSchema, logLevelSchema, encryptionKeySchema, rateLimitSchema, byteSizeSchema,
    allowListSchema, storeSchema, databaseUrlSchema, instanceIdSchema, httpUrlSchema
  };
}

/** Quote a user-supplied (non-secret) value for an error line, shortened. */
function shown(value: string): string {
  const short = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return JSON.stringify(short);
}

/**
 * Parse and validate the environment. Every problem is collected; if there is any, a ConfigError with
 * one line per problem is thrown. Relative paths are resolved against `cwd`.
 */
export function loadConfig(env: Env, cwd: string, facts: ProcessFacts = {}): ParsedConfig {
  const {
    connectionCapSchema, portSchema, durationSchema, positiveCount, booleanFlag, apiIdSchema, apiHashSchema,
    apiTokenSchema, hostSchema, hostPortSchema, logLevelSchema, encryptionKeySchema, rateLimitSchema, byteSizeSchema,
    allowListSchema, storeSchema, databaseUrlSchema, instanceIdSchema, httpUrlSchema
  } = settingSchemas();
  const problems: string[] = [];
  // Empty values count as unset (`API_TOKEN=` in a .env file means "not given").
  const raw = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  function read<T>(name: string, schema: z.ZodType<T, string>, fallback: string, opts?: { secret?: boolean }): T;
  function read<T>(name: string, schema: z.ZodType<T, string>, fallback?: undefined, opts?: { secret?: boolean }): T | undefined;
  function read<T>(name: string, schema: z.ZodType<T, string>, fallback?: string, opts?: { secret?: boolean }): T | undefined {
    const value = raw(name) ?? fallback;
    if (value === undefined) return undefined;
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const message = result.error.issues[0]?.message ?? 'is invalid';
    problems.push(opts?.secret || raw(name) === undefined ? `${name} ${message}` : `${name}=${shown(value)} ${message}`);
    return undefined;
  }

  // Telegram credentials and environment.
  const apiId = read('TELEGRAM_API_ID', apiIdSchema);
  const apiHash = read('TELEGRAM_API_HASH', apiHashSchema, undefined, { secret: true });
  const hasApiId = raw('TELEGRAM_API_ID') !== undefined;
  const hasApiHash = raw('TELEGRAM_API_HASH') !== undefined;
  if (hasApiId !== hasApiHash) {
    problems.push(
      hasApiId
        ? 'TELEGRAM_API_HASH is missing: set both TELEGRAM_API_ID and TELEGRAM_API_HASH, or neither for sandbox mode'
        : 'TELEGRAM_API_ID is missing: set both TELEGRAM_API_ID and TELEGRAM_API_HASH, or neither for sandbox mode',
    );
  }
  const useTestDc = read('TELEGRAM_TEST_DC', booleanFlag) ?? false;
  const sandboxMode = !hasApiId && !hasApiHash;
  if (useTestDc && sandboxMode) {
    problems.push('TELEGRAM_TEST_DC=1 needs TELEGRAM_API_ID and TELEGRAM_API_HASH (Telegram\'s test DCs are real servers)');
  }
  const environment: Config['environment'] = sandboxMode ? 'sandbox' : useTestDc ? 'test' : 'production';

  // Places.
  const dataDir = path.resolve(cwd, read('DATA_DIR', z.string(), DEFAULTS.dataDir));
  const host = read('HOST', hostSchema, DEFAULTS.host);
  const port = read('PORT', portSchema(0), String(DEFAULTS.port));
  const httpMaxConnectionsSetting = read('HTTP_MAX_CONNECTIONS', connectionCapSchema);
  const httpRequestTimeoutMs = read(
    'HTTP_REQUEST_TIMEOUT',
    durationSchema({ allowZero: false, maxMs: MAX_TIMER_MS }),
    DEFAULTS.httpRequestTimeout,
  );
  const apiToken = read('API_TOKEN', apiTokenSchema, undefined, { secret: true });
  const metricsToken = read('METRICS_TOKEN', apiTokenSchema, undefined, { secret: true });

  // Timings.
  const sessionMaxIdleMs = read('SESSION_MAX_IDLE', durationSchema({ allowZero: true }), DEFAULTS.sessionMaxIdle);
  const clientReadyTimeoutMs = read(
    'CLIENT_READY_TIMEOUT',
    durationSchema({ allowZero: false, maxMs: MAX_TIMER_MS }),
    DEFAULTS.clientReadyTimeout,
  );
  const retryMaxDelayMs = read(
    'RETRY_MAX_DELAY',
    durationSchema({ allowZero: false, maxMs: MAX_TIMER_MS }),
    DEFAULTS.retryMaxDelay,
  );

  const healthProbeIntervalMs = read(
    'HEALTH_PROBE_INTERVAL',
    durationSchema({ allowZero: true, maxMs: MAX_TIMER_MS }),
    DEFAULTS.healthProbeInterval,
  );
  const qrLoginTimeoutMs = read('QR_LOGIN_TIMEOUT', durationSchema({ allowZero: true, maxMs: MAX_TIMER_MS }), DEFAULTS.qrLoginTimeout);
  const validationConcurrency = read('VALIDATION_CONCURRENCY', positiveCount(1000), String(DEFAULTS.validationConcurrency));

  // Logging.
  const logLevel = read('LOG_LEVEL', logLevelSchema, DEFAULTS.logLevel);
  const logFileSetting = read('LOG_FILE', z.string());
  const logFile = logFileSetting ? path.resolve(cwd, logFileSetting) : path.join(dataDir, DEFAULTS.logFileName);

  // Sandbox DC.
  const sandboxPort = read('SANDBOX_DC_PORT', portSchema(1, 65534), String(DEFAULTS.sandboxDcPort));
  const sandboxMaxConnections = read('SANDBOX_DC_MAX_CONNECTIONS', connectionCapSchema, String(DEFAULTS.sandboxDcMaxConnections));
  const sandboxAdminPort = read('SANDBOX_DC_ADMIN_PORT', portSchema(1));
  const externalDc = read('SANDBOX_DC', hostPortSchema);
  const publicKeySetting = read('SANDBOX_DC_PUBLIC_KEY_FILE', z.string());
  const hasExternalDc = raw('SANDBOX_DC') !== undefined;
  if (hasExternalDc && !publicKeySetting) {
    problems.push('SANDBOX_DC_PUBLIC_KEY_FILE is missing: SANDBOX_DC needs the DC\'s public key file');
  }
  if (!hasExternalDc && publicKeySetting) {
    problems.push('SANDBOX_DC is missing: SANDBOX_DC_PUBLIC_KEY_FILE is only used with SANDBOX_DC=host:port');
  }
  if (sandboxAdminPort !== undefined && (hasExternalDc || !sandboxMode)) {
    problems.push('SANDBOX_DC_ADMIN_PORT is only used with the sandbox DC the service starts itself (sandbox mode, no SANDBOX_DC)');
  }
  if (hasExternalDc && !sandboxMode) {
    problems.push('SANDBOX_DC is only used in sandbox mode: unset it, or unset TELEGRAM_API_ID and TELEGRAM_API_HASH');
  }

  // Security options.
  const sessionEncryptionKey = read('SESSION_ENCRYPTION_KEY', encryptionKeySchema, undefined, { secret: true });
  const loginRateLimit = read('LOGIN_RATE_LIMIT', rateLimitSchema, DEFAULTS.loginRateLimit);

  // Events, delivery, Idempotency-Keys.
  const positiveDuration = durationSchema({ allowZero: false, maxMs: MAX_TIMER_MS });
  const events: EventsConfig = {
    journalMaxBytes: read('EVENTS_MAX_SIZE', byteSizeSchema, DEFAULTS.eventsMaxSize)!,
    journalMaxAgeMs: read('EVENTS_MAX_AGE', durationSchema({ allowZero: true }), DEFAULTS.eventsMaxAge)!,
    sseHeartbeatMs: read('SSE_HEARTBEAT', positiveDuration, DEFAULTS.sseHeartbeat)!,
    sseSlowClientTimeoutMs: read('SSE_SLOW_CLIENT_TIMEOUT', positiveDuration, DEFAULTS.sseSlowClientTimeout)!,
    sseMaxStreams: read('SSE_MAX_STREAMS', positiveCount(10_000), String(DEFAULTS.sseMaxStreams))!,
    webhookTimeoutMs: read('WEBHOOK_TIMEOUT', positiveDuration, DEFAULTS.webhookTimeout)!,
    webhookRetryMaxMs: read('WEBHOOK_RETRY_MAX', positiveDuration, DEFAULTS.webhookRetryMax)!,
    webhookAllowedHosts: read('WEBHOOK_ALLOWED_HOSTS', allowListSchema) ?? [],
    idempotencyTtlMs: read('IDEMPOTENCY_KEY_TTL', positiveDuration, DEFAULTS.idempotencyKeyTtl)!,
  };

  // Where accounts live; a cluster of instances with PostgreSQL.
  const storeKind = read('STORE', storeSchema, DEFAULTS.store);
  const databaseUrl = read('DATABASE_URL', databaseUrlSchema, undefined, { secret: true });
  if (storeKind === 'postgres' && raw('DATABASE_URL') === undefined) problems.push('DATABASE_URL is missing: STORE=postgres needs it');
  if (storeKind === 'postgres' && raw('API_TOKEN') === undefined) {
    problems.push('API_TOKEN is missing: with STORE=postgres every instance must accept the same token (set it in every instance\'s environment)');
  }
  if (storeKind === 'postgres' && sandboxMode && !hasExternalDc) {
    problems.push('SANDBOX_DC is missing: with STORE=postgres in sandbox mode every instance must talk to one shared sandbox DC (npm run sandbox-dc)');
  }
  const instanceId = read('INSTANCE_ID', instanceIdSchema);
  const instanceUrl = read('INSTANCE_URL', httpUrlSchema);
  const leaseTtlMs = read('LEASE_TTL', durationSchema({ allowZero: false, maxMs: 10 * 60_000 }), DEFAULTS.leaseTtl);
  if (leaseTtlMs !== undefined && leaseTtlMs < 4000) problems.push('LEASE_TTL must be at least 4s');
  const httpMaxConnections = fitConnectionCaps({
    fileLimit: facts.openFileLimit,
    http: httpMaxConnectionsSetting,
    // Only the in-process sandbox DC holds its connections in this process.
    sandboxDc: sandboxMode && !hasExternalDc ? sandboxMaxConnections : 0,
    problems,
  });

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    environment,
    telegram: sandboxMode ? { apiId: SANDBOX_API_ID, apiHash: SANDBOX_API_HASH } : { apiId: apiId!, apiHash: apiHash! },
    sandbox: {
      port: sandboxPort!,
      maxConnections: sandboxMaxConnections!,
      ...(sandboxAdminPort !== undefined ? { adminPort: sandboxAdminPort } : {}),
      ...(externalDc && publicKeySetting
        ? { external: { ...externalDc, publicKeyFile: path.resolve(cwd, publicKeySetting) } }
        : {}),
    },
    dataDir,
    host: host!,
    port: port!,
    httpMaxConnections: httpMaxConnections!,
    httpRequestTimeoutMs: httpRequestTimeoutMs!,
    ...(apiToken ? { apiToken } : {}),
    ...(metricsToken ? { metricsToken } : {}),
    sessionMaxIdleMs: sessionMaxIdleMs!,
    clientReadyTimeoutMs: clientReadyTimeoutMs!,
    retryMaxDelayMs: retryMaxDelayMs!,
    healthProbeIntervalMs: healthProbeIntervalMs!,
    qrLoginTimeoutMs: qrLoginTimeoutMs!,
    validationConcurrency: validationConcurrency!,
    logLevel: logLevel!,
    logFile,
    ...(sessionEncryptionKey ? { sessionEncryptionKey } : {}),
    loginRateLimit: loginRateLimit!,
    events,
    store: storeKind === 'postgres' ? { kind: 'postgres', databaseUrl: databaseUrl! } : { kind: 'files' },
    ...(instanceId ? { instanceId } : {}),
    ...(instanceUrl ? { instanceUrl } : {}),
    leaseTtlMs: leaseTtlMs!,
  };
}

/**
 * Every connection is an open file, and a process out of files fails everything — its own session
 * writes and its own MTProto connection included. So the HTTP cap plus both in-process sandbox DCs' caps
 * must fit the open-file limit with RESERVED_FILES to spare. Unset, HTTP_MAX_CONNECTIONS is the default
 * or what fits, whichever is smaller; set, it must fit (a problem otherwise). Returns the HTTP cap.
 */
function fitConnectionCaps(opts: {
  fileLimit: number | undefined;
  http: number | undefined;
  /** Connections of each in-process sandbox DC (0 when there is none). */
  sandboxDc: number | undefined;
  problems: string[];
}): number | undefined {
  const { fileLimit, http, problems } = opts;
  if (opts.sandboxDc === undefined) return http ?? DEFAULTS.httpMaxConnections; // already a problem
  if (fileLimit === undefined) return http ?? DEFAULTS.httpMaxConnections;
  const room = fileLimit - RESERVED_FILES - 2 * opts.sandboxDc;
  const dcPart = opts.sandboxDc > 0 ? ` and 2 × SANDBOX_DC_MAX_CONNECTIONS=${opts.sandboxDc}` : '';
  const fix = 'lower the caps, or raise the limit (ulimit -n, LimitNOFILE=)';
  if (http !== undefined && http > room) {
    problems.push(
      `HTTP_MAX_CONNECTIONS=${http}${dcPart} do not fit the open-file limit of ${fileLimit} (${RESERVED_FILES} files are kept for the service itself): ${fix}`,
    );
    return undefined;
  }
  if (room < MIN_HTTP_CONNECTIONS) {
    problems.push(`the open-file limit of ${fileLimit} is too low for the HTTP API${dcPart} (${RESERVED_FILES} files are kept for the service itself): ${fix}`);
    return undefined;
  }
  return http ?? Math.min(DEFAULTS.httpMaxConnections, room);
}
