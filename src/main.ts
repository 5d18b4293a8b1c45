/**
 * telegram-service start-up and shutdown:
 *   config → data dir (0700) + lock → API token → logger → sandbox DC (sandbox mode) → accounts store
 *   → account registry (restore every account) → HTTP → joining the cluster (STORE=postgres); then
 *   validation runs in the background, and mtcute is loaded on first use (telegram/load.ts).
 * SIGINT/SIGTERM: stop accepting and finish in-flight requests, stop every account (persist, disconnect),
 * the sandbox DC and the lock, exit 0 — within 5 s, or exit 1 if something hangs.
 * A data-directory lock found lost while running (ours, or the in-process sandbox DC's): exit 1 at once,
 * without any of that — another process may own the files and the auth key by now.
 * Exit codes: 0 clean stop, 1 failure (including "data directory in use" and a lost lock), 2 invalid
 * configuration or a data directory refused (not private, or a file in it a symlink or FIFO).
 */
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { AccountRegistry, DEFAULT_ACCOUNT_ID } from './accounts/registry.js';
import { createServiceMetrics } from './metrics/service-metrics.js';
import {
  CONFIG_ERROR_EXIT_CODE,
  DEFAULTS,
  ConfigError,
  loadConfig,
  mergeEnv,
  readDotEnv,
  resolveConfig,
  type Config,
  type ResolvedConfig,
} from './config/index.js';
import type { Cluster } from './cluster/index.js';
import { buildApp, LazySchemas } from './http/index.js';
import { generatedSchemas } from './generated-schemas.js';
import { loadConsoleAssets } from './console/assets.js';
import { createLogger, type Logger } from './logging/index.js';
import { LOG_MESSAGES } from './logging/messages.js';
import type { SandboxLog } from '@telegram-service/sandbox-dc';
import {
  acquireDataDirLock,
  DataDirLockedError,
  openFileLimit,
  UntrustedPathError,
  type DataDirLockLostError,
} from '@telegram-service/durable-files';
import { createFileAccountsStore } from './store/files/accounts-dir.js';
import type { AccountsStore } from './store/types.js';
import { loadTelegram } from './telegram/load.js';

/** A graceful stop must finish within this; then the process exits 1 whatever still hangs. */
const SHUTDOWN_DEADLINE_MS = 5_000;
/** Of which in-flight HTTP requests get this long to finish. */
const HTTP_DRAIN_MS = 3_000;

type Cleanup = { name: string; run: () => Promise<void> | void };

/** What has been started so far, stopped in reverse order. */
const cleanups: Cleanup[] = [];
let logger: Logger | undefined;
/** main() has finished (started or failed). */
let startupDone = false;
/** A stop was asked for (a signal) before start-up was done. */
let stopRequested = false;
/** shutdown() is running. */
let stopping = false;

function version(): string {
  try {
    return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function fail(message: string, exitCode: number): never {
  process.stderr.write(`telegram-service: ${message}\n`);
  process.exit(exitCode);
}

/** Whether `err` (or an error it wraps) says that a path in the data directory cannot be trusted. */
function untrustedPath(err: unknown): UntrustedPathError | undefined {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof UntrustedPathError) return e;
  return undefined;
}

/**
 * Our lock (or the in-process sandbox DC's) is gone or another process's: that process may be using
 * the auth key already. Stop using it this instant — exit, without the graceful shutdown, whose writes
 * (the final session save, the lock's release) would land in files that may not be ours any more.
 */
function exitForLostLock(err: DataDirLockLostError, whose = ''): never {
  const message = `${LOG_MESSAGES.lockLost}: ${err.message}${whose}; exiting so that two processes never use one session`;
  logger?.fatal({ lockFile: err.file, reason: err.reason }, message);
  process.stderr.write(`telegram-service: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  installProcessHandlers();

  // 1. Configuration (pure), with `.env` under the real environment.
  const cwd = process.cwd();
  let parsed: ReturnType<typeof loadConfig>;
  try {
    parsed = loadConfig(mergeEnv(readDotEnv(cwd), process.env), cwd, { openFileLimit: openFileLimit() });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, CONFIG_ERROR_EXIT_CODE);
    throw err;
  }

  // 2. The data directory (created 0700; an existing one must be private) and its lock: one process per
  //    data directory, refused at once, and watched while running.
  let lock: Awaited<ReturnType<typeof acquireDataDirLock>>;
  try {
    lock = await acquireDataDirLock(parsed.dataDir, { onLost: (err) => exitForLostLock(err) });
  } catch (err) {
    if (err instanceof UntrustedPathError) fail(err.message, CONFIG_ERROR_EXIT_CODE);
    fail(err instanceof DataDirLockedError ? err.message : dataDirProblem(parsed.dataDir, err), 1);
  }
  cleanups.push({ name: 'data directory lock', run: () => lock.release() });

  /** A start the user must fix (a bad setting, a file in the data directory refused): exit 2 with its message. */
  const refuseStart = async (err: unknown): Promise<never> => {
    await lock.release();
    if (err instanceof ConfigError || err instanceof UntrustedPathError) fail(err.message, CONFIG_ERROR_EXIT_CODE);
    throw err;
  };

  // 3. File-backed settings: the API token, the external sandbox DC's key.
  let resolved: ResolvedConfig;
  try {
    resolved = resolveConfig(parsed);
  } catch (err) {
    return refuseStart(err);
  }
  const { config } = resolved;

  // 4. Logging (the log file is never opened through a symlink).
  let log: Logger;
  try {
    log = createLogger(config);
  } catch (err) {
    return refuseStart(err);
  }
  logger = log;
  log.info(
    { version: version(), environment: config.environment, dataDir: config.dataDir, logFile: config.logFile },
    LOG_MESSAGES.starting,
  );
  for (const warning of [...lock.warnings, ...resolved.warnings]) log.warn(warning);
  logApiTokenSource(log, config, resolved.apiTokenFile);

  // 5. The sandbox DC, in-process, unless an external one is configured (only then is its code loaded).
  let sandbox: { dcs: { id: number; host: string; port: number }[]; publicKeyPem: string; adminUrl?: string } | undefined;
  if (config.environment === 'sandbox' && !config.sandbox.external) {
    const ports: [number, number] = [config.sandbox.port, config.sandbox.port + 1];
    const { startSandboxDc } = await import('@telegram-service/sandbox-dc');
    const dc = await startSandboxDc({
      host: '127.0.0.1',
      dataDir: path.join(config.dataDir, 'sandbox-dc'),
      ports,
      log: sandboxLog(log.child({ component: 'sandbox-dc' })),
      limits: { maxConnections: config.sandbox.maxConnections ?? DEFAULTS.sandboxDcMaxConnections },
      ...(config.sandbox.adminPort !== undefined ? { adminPort: config.sandbox.adminPort } : {}),
      onLockLost: (err) => exitForLostLock(err, " (the in-process sandbox DC's)"),
    }).catch((err: unknown) => {
      if (untrustedPath(err)) throw err; // a refused file, not a port problem
      throw new Error(
        `the sandbox DC could not start on 127.0.0.1 ports ${ports.join(' and ')} (${(err as Error).message}); ` +
          'set SANDBOX_DC_PORT to a free port (the next one must be free too' +
          (config.sandbox.adminPort !== undefined ? ', and SANDBOX_DC_ADMIN_PORT to another free one)' : ')'),
        { cause: err },
      );
    });
    cleanups.push({ name: 'sandbox DC', run: () => dc.close() });
    sandbox = { dcs: dc.dcs, publicKeyPem: dc.publicKeyPem, ...(dc.adminUrl ? { adminUrl: dc.adminUrl } : {}) };
  }
  if (config.environment === 'sandbox') announceSandbox(log, config, sandbox);

  // 6. The accounts: every one restored from disk (never waits for the network; validation runs behind,
  //    from step 8 on). With STORE=postgres this process is one instance of a cluster: it holds the
  //    accounts ownership gives it, and forwards requests for the others to their owner (src/cluster/,
  //    loaded only then, with pg and mtcute's transport).
  let cluster: Cluster | undefined;
  if (config.store?.kind === 'postgres') {
    const { openCluster } = await import('./cluster/index.js');
    const opened = await openCluster(config, config.store.databaseUrl, log);
    cleanups.push({ name: 'database', run: () => opened.close() });
    config.instanceId = opened.instanceId;
    log.info({ instanceId: opened.instanceId, leaseTtlMs: config.leaseTtlMs }, 'Cluster instance: accounts in PostgreSQL');
    cluster = opened;
  }
  const store: AccountsStore =
    cluster?.store ??
    createFileAccountsStore({
      dataDir: config.dataDir,
      environment: config.environment,
      log: log.child({ module: 'store' }),
      ...(config.sessionEncryptionKey ? { encryptionKey: config.sessionEncryptionKey } : {}),
    });
  // Metrics read the accounts' states at scrape time (never before the registry exists).
  const metrics = createServiceMetrics({ statuses: () => registry.statuses(), events: () => registry.eventParts() });
  const registry = new AccountRegistry({
    config,
    store,
    logger: log,
    accountOptions: { observer: metrics.accountObserver },
    userAgent: `telegram-service/${version()}`,
    ...(sandbox ? { sandbox } : {}),
    ...(cluster ? { cluster: cluster.directory } : {}),
  });
  cleanups.push({ name: 'accounts', run: () => registry.stop() });
  await registry.start();
  // Graceful stop hands every account over at once (after HTTP stopped taking requests).
  if (cluster) cleanups.push({ name: 'cluster', run: () => cluster.stop() });

  // 7. HTTP. Route schemas are compiled on first use; the rest once mtcute is loaded (below), so neither
  //    the first answer nor the first validation waits for them.
  //    Validators and serializers come ready-made from the build (dist/schemas/, beside dist/main.js).
  const schemas = new LazySchemas(generatedSchemas(fileURLToPath(new URL('./schemas/', import.meta.url))));
  const app = buildApp({
    config,
    registry,
    logger: log,
    version: version(),
    metrics,
    // console/ beside dist/ and src/, where main.js and main.ts are (the bundle keeps dist/main.js there).
    console: loadConsoleAssets(fileURLToPath(new URL('../console/', import.meta.url))),
    ...(cluster ? { forwarding: cluster.forwarding, remoteEvents: cluster.remoteEvents } : {}),
    schemas,
  });
  cleanups.push({
    name: 'HTTP server',
    run: async () => {
      // In-flight requests get most of the deadline; then any connection still open is cut, so the
      // account and the store are always stopped cleanly before the hard deadline.
      const cut = setTimeout(() => app.server.closeAllConnections(), HTTP_DRAIN_MS);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
      }
    },
  });
  await app.listen({ host: config.host, port: config.port }).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'EADDRINUSE' ? '; set PORT to a free port' : '';
    throw new Error(`the HTTP API could not listen on ${config.host}:${config.port} (${(err as Error).message})${hint}`, {
      cause: err,
    });
  });
  const address = app.server.address() as AddressInfo;
  log.info(
    {
      host: config.host,
      port: address.port,
      url: `http://${urlHost(config.host)}:${address.port}`,
      maxConnections: config.httpMaxConnections,
      requestTimeoutMs: config.httpRequestTimeoutMs,
    },
    LOG_MESSAGES.listening,
  );
  if (!isLoopback(config.host)) {
    log.warn({ host: config.host }, 'The HTTP API listens beyond this machine: use TLS in front of it, and keep the API token secret');
  }
  // 8. Background work: the restored sessions are validated against Telegram (which loads mtcute), now that
  //    status answers; with no session to validate mtcute is loaded (and what a first client needs readied)
  //    anyway, ready for the first request.
  //    A cluster instance joins now, and the accounts it takes are validated as they come.
  registry.startValidation();
  if (cluster) {
    const url = config.instanceUrl ?? `http://${urlHost(advertisedHost(config.host))}:${address.port}`;
    await cluster.start(
      {
        has: (id) => registry.has(id) && cluster.ownership.holds(id),
        adopt: (id) => registry.adopt(id),
        release: (id, opts) => registry.release(id, opts),
        status: (id) => registry.get(id)?.status(),
      },
      url,
    );
  }
  setImmediate(() =>
    void loadTelegram()
      .then((telegram) => telegram.prepareClients())
      .catch((err: unknown) => log.error({ err }, 'Could not load the Telegram client library'))
      .finally(() => schemas.warmUp(log)),
  );

  const defaultAccount = registry.get(DEFAULT_ACCOUNT_ID)?.status();
  log.info(
    { accounts: registry.size, environment: config.environment, ...(defaultAccount ? { state: defaultAccount.state } : {}) },
    LOG_MESSAGES.started,
  );
}

/** A data directory that cannot be created, written or locked, said plainly (errno code and path). */
function dataDirProblem(dataDir: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'EEXIST' || code === 'ENOTDIR') return `data directory ${dataDir} exists and is not a directory (set DATA_DIR to a directory)`;
  if (code === 'EROFS') return `data directory ${dataDir} is on a read-only filesystem (EROFS); the service must write its lock and session there (${detail})`;
  if (code === 'EACCES' || code === 'EPERM') return `data directory ${dataDir} is not writable by this user (${code}): ${detail}`;
  if (code === 'ENOSPC') return `data directory ${dataDir}: no space left on the device (ENOSPC): ${detail}`;
  return `data directory ${dataDir} cannot be used: ${detail}`;
}

/** The sandbox DC's log sink, onto our logger (its own lines stay apart from the service's via `component`). */
function sandboxLog(log: Logger): SandboxLog {
  return (level, msg, fields) => log[level](fields ?? {}, msg);
}

/** The host other instances use to reach this one when INSTANCE_URL is not set. */
function advertisedHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? os.hostname() : host;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function logApiTokenSource(log: Logger, config: Config, file: string | undefined): void {
  if (config.apiTokenSource === 'env') log.info('API token: from the API_TOKEN environment variable');
  else if (config.apiTokenSource === 'generated') log.info({ file }, LOG_MESSAGES.apiTokenGenerated(String(file)));
  else log.info({ file }, LOG_MESSAGES.apiTokenRead(String(file)));
}

/** The loud start-up banner: on the log (and thus stdout), and boxed on a terminal. */
function announceSandbox(
  log: Logger,
  config: Config,
  sandbox: { dcs: { id: number; host: string; port: number }[]; adminUrl?: string } | undefined,
): void {
  const where = sandbox
    ? `the built-in sandbox DC at ${sandbox.dcs.map((dc) => `${dc.host}:${dc.port}`).join(', ')}` +
      (sandbox.adminUrl ? ` (its controls at ${sandbox.adminUrl})` : '')
    : `the external sandbox DC at ${config.sandbox.external!.host}:${config.sandbox.external!.port}`;
  const text =
    `${LOG_MESSAGES.sandboxBanner}: no TELEGRAM_API_ID/TELEGRAM_API_HASH set — talking to ${where}, not to Telegram. ` +
    'Test login: +9996621234, code 22222.';
  if (process.stdout.isTTY) {
    const bar = '='.repeat(Math.min(100, text.length));
    process.stdout.write(`\n${bar}\n${text}\n${bar}\n\n`);
  }
  log.warn({ environment: 'sandbox', dcs: sandbox?.dcs ?? [config.sandbox.external], ...(sandbox?.adminUrl ? { adminUrl: sandbox.adminUrl } : {}) }, text);
}

/** The shutdown step running now (named in the log if the deadline passes). */
let currentStep: string | undefined;

/** Exits 1 if a stop is not done within the deadline (a hung disconnect must not keep the process alive). */
function armHardStop(): void {
  const timer = setTimeout(() => {
    logger?.error({ deadlineMs: SHUTDOWN_DEADLINE_MS, step: currentStep }, 'Shutdown did not finish in time; exiting');
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS);
  timer.unref();
}

async function shutdown(reason: string, exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  armHardStop();
  logger?.info({ reason }, LOG_MESSAGES.stopping);
  let code = exitCode;
  while (cleanups.length > 0) {
    const step = cleanups.pop()!;
    currentStep = step.name;
    const startedAt = Date.now();
    try {
      await step.run();
      logger?.debug({ step: step.name, ms: Date.now() - startedAt }, 'Shutdown step done');
    } catch (err) {
      code = 1;
      logger?.error({ err, step: step.name }, `Shutdown step failed: ${step.name}`);
    }
  }
  logger?.info({ exitCode: code }, LOG_MESSAGES.stopped);
  process.exit(code);
}

function installProcessHandlers(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping || stopRequested) {
        logger?.warn({ signal }, 'Already shutting down');
      } else if (!startupDone) {
        // Let start-up reach a consistent point (files written, lock held); it stops right after.
        stopRequested = true;
        armHardStop();
        logger?.info({ signal }, 'Signal received during start-up; stopping once started');
      } else {
        void shutdown(signal, 0);
      }
    });
  }
  process.on('uncaughtException', (err) => {
    if (logger) logger.fatal({ err }, LOG_MESSAGES.uncaughtException);
    else process.stderr.write(`telegram-service: uncaught exception: ${err.stack ?? err.message}\n`);
    void shutdown('uncaught exception', 1);
  });
  process.on('unhandledRejection', (reason) => {
    // Logged, not fatal: one failed background promise must not log the account out by crashing.
    if (logger) logger.error({ err: reason }, LOG_MESSAGES.unhandledRejection);
    else process.stderr.write(`telegram-service: unhandled rejection: ${String(reason)}\n`);
  });
}

main().then(
  () => {
    startupDone = true;
    if (stopRequested) void shutdown('signal during start-up', 0);
  },
  (err: unknown) => {
    startupDone = true;
    const message = err instanceof Error ? err.message : String(err);
    if (logger) logger.fatal({ err }, LOG_MESSAGES.startupFailed(message));
    process.stderr.write(`telegram-service: start-up failed: ${message}\n`);
    void shutdown('start-up failed', untrustedPath(err) ? CONFIG_ERROR_EXIT_CODE : 1);
  },
);
