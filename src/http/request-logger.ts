/**
 * Fastify gives every request a child logger bound to its request id (`request.log`). Made eagerly, that
 * child costs every request ~5 µs (pino runs the bindings through our redaction and secret scrubbing),
 * though most requests log nothing at the levels in use. This factory hands out a stand-in that makes the
 * real child only when a line is about to be written at an enabled level (or a child of it is asked for):
 * every line a request writes still carries its reqId, and nothing is paid when none is written.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** pino's logger answers this; a logger without it is treated as logging everything. */
interface LevelAware {
  isLevelEnabled?(level: string): boolean;
}

class LazyRequestLogger implements FastifyBaseLogger, LevelAware {
  private real: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger & LevelAware,
    private readonly bindings: Bindings,
  ) {}

  private logger(): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.bindings));
  }

  private writes(level: Level): boolean {
    return this.real !== undefined || this.parent.isLevelEnabled?.(level) !== false;
  }

  isLevelEnabled(level: string): boolean {
    return ((this.real ?? this.parent) as LevelAware).isLevelEnabled?.(level) !== false;
  }

  get level(): string {
    return (this.real ?? this.parent).level;
  }

  set level(level: string) {
    this.logger().level = level;
  }

  fatal(...args: unknown[]): void {
    this.line('fatal', args);
  }
  error(...args: unknown[]): void {
    this.line('error', args);
  }
  warn(...args: unknown[]): void {
    this.line('warn', args);
  }
  info(...args: unknown[]): void {
    this.line('info', args);
  }
  debug(...args: unknown[]): void {
    this.line('debug', args);
  }
  trace(...args: unknown[]): void {
    this.line('trace', args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger().child(bindings, options);
  }

  private line(level: Level, args: unknown[]): void {
    if (!this.writes(level)) return;
    (this.logger()[level] as (...a: unknown[]) => void)(...args);
  }
}

/** Whether `log` writes lines at `level` (a logger that cannot say is taken to write everything). */
export function logsAt(log: FastifyBaseLogger, level: Level): boolean {
  return (log as LevelAware).isLevelEnabled?.(level) !== false;
}

/** Fastify's `childLoggerFactory`: the per-request logger, made on first use. */
export function lazyRequestLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  // A route with its own level or serializers gets its child at once, as Fastify would make it.
  if (Object.keys(options).length > 0) return logger.child(bindings, options);
  return new LazyRequestLogger(logger, bindings);
}
