/**
 * The service's pino logger: JSON lines to the log file (created 0600, never opened through a symlink
 * nor as a FIFO — UntrustedPathError), and to stdout — pretty when stdout is a terminal and pino-pretty
 * can be loaded, JSON otherwise. Both are written synchronously so nothing is lost when the process exits
 * (or is killed right after a line).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pino, type DestinationStream, type Logger, type StreamEntry } from 'pino';
import { openPrivateAppendSync } from '@telegram-service/durable-files';
import type { Config } from '../config/types.js';
import { SANDBOX_API_HASH } from '../config/load-config.js';
import { REDACT_PATHS, censor, createSecretScrubber, scrubSecrets } from './redact.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** 'auto' (default): pretty on a TTY, JSON otherwise. 'none': log to the file only. */
  stdout?: 'auto' | 'pretty' | 'json' | 'none';
  /** More secret values to scrub from every line (beyond the API token and API hash). */
  secrets?: string[];
}

type LoggerConfig = Pick<Config, 'logLevel' | 'logFile'> & {
  apiToken?: string;
  metricsToken?: string;
  telegram?: Pick<Config['telegram'], 'apiHash'>;
};

export function createLogger(config: LoggerConfig, options: LoggerOptions = {}): Logger {
  const logFile = openLogFile(config.logFile);
  const streams: StreamEntry[] = [{ level: config.logLevel, stream: logFile.stream }];
  const stdout = stdoutStream(options.stdout ?? 'auto');
  if (stdout) streams.push({ level: config.logLevel, stream: stdout });

  const apiHash = config.telegram?.apiHash;
  const scrub = createSecretScrubber([
    config.apiToken,
    config.metricsToken,
    apiHash && apiHash !== SANDBOX_API_HASH ? apiHash : undefined,
    ...(options.secrets ?? []),
  ]);

  const logger = pino(
    {
      level: config.logLevel,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor },
      serializers: { err: serializeError },
      formatters: { log: (record) => scrubSecrets(record) },
      hooks: { streamWrite: scrub },
    },
    pino.multistream(streams, { dedupe: false }),
  );
  // Child bindings bypass formatters.log: scrub them too. Children inherit this `child` (prototype chain).
  const originalChild = logger.child;
  logger.child = function scrubbedChild(this: Logger, bindings, childOptions) {
    return originalChild.call(this, scrubSecrets(bindings), childOptions);
  } as Logger['child'];
  if (logFile.warning) logger.warn(logFile.warning);
  return logger;
}

/**
 * pino's error serializer, but `type` is the error's `name`: the bundle shortens class names (scripts/bundle.mjs),
 * so a constructor's name would read `Xe`; the service's own errors name themselves (`AccountError`, …).
 */
function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return pino.stdSerializers.err(err as Error); // pino passes other values through
  const serialized = pino.stdSerializers.err(err);
  serialized.type = err.name;
  return serialized;
}

/** Opens (creating 0600, or tightening an existing file to 0600, said in `warning`) the log file for appending. */
function openLogFile(file: string): { stream: DestinationStream; warning?: string } {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const { fd, warning } = openPrivateAppendSync(file);
  return { stream: losingLinesOnError(pino.destination({ fd, sync: true })), ...(warning ? { warning } : {}) };
}

/**
 * A line that cannot be written (the log's disk full, stdout closed) is lost, and the service goes on: a
 * synchronous destination emits the write's error at once, and without a listener that error would be
 * thrown out of the log call — into whatever request or write was being logged.
 */
function losingLinesOnError<T extends DestinationStream>(stream: T): T {
  (stream as unknown as NodeJS.EventEmitter).on?.('error', () => undefined);
  return stream;
}

function stdoutStream(mode: NonNullable<LoggerOptions['stdout']>): DestinationStream | undefined {
  if (mode === 'none') return undefined;
  const wantPretty = mode === 'pretty' || (mode === 'auto' && process.stdout.isTTY === true);
  if (wantPretty) {
    const pretty = loadPinoPretty();
    if (pretty) return losingLinesOnError(pretty({ colorize: true, sync: true, translateTime: 'SYS:standard', ignore: 'pid,hostname' }));
  }
  return losingLinesOnError(pino.destination({ fd: 1, sync: true }));
}

type PrettyFactory = (options: Record<string, unknown>) => DestinationStream;

/** pino-pretty is a devDependency: absent in a production install, and then stdout gets plain JSON. */
function loadPinoPretty(): PrettyFactory | undefined {
  try {
    const required = createRequire(import.meta.url)('pino-pretty') as PrettyFactory | { default: PrettyFactory };
    return typeof required === 'function' ? required : required.default;
  } catch {
    return undefined;
  }
}
