/**
 * Builds the mtcute TelegramClient for the configured environment: production, Telegram's test DCs,
 * or the sandbox DC. The client's storage is the session store's provider over session.json. Updates are
 * on: once logged in, the client runs mtcute's updates loop, catching up from the stored state (catchUp),
 * and idle connections stay open (idle-ping.ts).
 */
import { format } from 'node:util';
import { networkMiddlewares, type ITelegramStorageProvider, type RpcCallMiddleware, type TelegramTransport } from '@mtcute/core';
import { defaultProductionDc, defaultTestDc, type DcOptions, LogManager } from '@mtcute/core/utils.js';
import { BaseTelegramClient, NodePlatform, TcpTransport, TelegramClient } from '@mtcute/node';
import { addPublicKey, NodeCryptoProvider } from '@mtcute/node/utils.js';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { redactSecretLikeText } from '../logging/index.js';
import { classifyTelegramError } from './errors.js';
import { installIdlePing } from './idle-ping.js';
import { watchPongs } from './pong-watch.js';

export interface SandboxDcAddress {
  dcs: { id: number; host: string; port: number }[];
  publicKeyPem: string;
}

export interface CreateClientOptions {
  config: Pick<Config, 'environment' | 'telegram' | 'sandbox'> & Partial<Pick<Config, 'retryMaxDelayMs' | 'instanceId'>>;
  /** The storage for a client that starts from these DCs (the store records them beside the first key). */
  storage: (primaryDcs: DcOptions) => Promise<ITelegramStorageProvider>;
  logger: Logger;
  /** The sandbox DC started in-process; wins over config.sandbox.external. */
  sandbox?: SandboxDcAddress;
  /**
   * Telegram's pushes reach `client.onServerUpdate` raw, with no updates loop behind them (a QR login waits
   * for updateLoginToken on a client of its own). Default: mtcute's updates loop with catch-up.
   */
  rawUpdates?: boolean;
  /**
   * Told when Telegram answers that the updates since the stored state are too many to send
   * (differenceTooLong): mtcute then skips to the present, and what happened in between is not delivered.
   */
  onUpdatesGap?: (detail: string) => void;
  /** How connections are made (a cluster gates them on the account's lease); default mtcute's TCP transport. */
  transport?: TelegramTransport;
  /** Ping interval of idle connections (ms; a cluster shortens it, see keepalive.ts); default mtcute's. */
  pingIntervalMs?: number;
  /** Told whenever Telegram answers a ping on the client's connections (pong-watch.ts). */
  onPong?: () => void;
}

/** initConnection's device model: names this instance to Telegram (Active sessions) and to the sandbox DC's referee. */
export function deviceModelFor(instanceId: string | undefined): string {
  return instanceId ? `telegram-service/${instanceId}` : 'telegram-service';
}

/** The sandbox DC the client talks to: DC 2, as on Telegram's test network. */
export function sandboxTarget(
  config: Pick<Config, 'sandbox'>,
  sandbox?: SandboxDcAddress,
): { host: string; port: number; publicKeyPem: string } {
  if (sandbox) {
    const dc = sandbox.dcs.find((d) => d.id === 2) ?? sandbox.dcs[0];
    if (!dc) throw new Error('The sandbox DC reported no listening DCs');
    return { host: dc.host, port: dc.port, publicKeyPem: sandbox.publicKeyPem };
  }
  if (config.sandbox.external) return config.sandbox.external;
  throw new Error('Sandbox environment without a sandbox DC to talk to');
}

/** mtcute's own log lines, routed into pino. Quiet (warnings and errors) unless we run at debug. */
function mtcuteLogManager(logger: Logger): LogManager {
  const manager = new LogManager('mtcute', new NodePlatform());
  const debug = logger.isLevelEnabled('debug');
  manager.level = debug ? LogManager.INFO : LogManager.WARN;
  const child = logger.child({ module: 'mtcute' });
  manager.handler = (_color: number, level: number, tag: string, fmt: string, args: unknown[]) => {
    const message = redactSecretLikeText(format(fmt, ...args));
    if (level <= LogManager.ERROR) child.error({ tag }, message);
    else if (level === LogManager.WARN) child.warn({ tag }, message);
    else child.debug({ tag }, message);
  };
  return manager;
}

/** mtcute's defaults: reconnect waits climb to 5 s; at most 5 connection attempts per 10 s ("sanity" limiter). */
const MTCUTE_RECONNECT_CAP_MS = 5000;
const MTCUTE_SANITY_WINDOW_MS = 10_000;
const MTCUTE_SANITY_CONNECTS = 5;
/** Floors that keep a tiny RETRY_MAX_DELAY from turning reconnects into a hammering loop. */
const MIN_RECONNECT_CAP_MS = 1000;
const MIN_SANITY_WINDOW_MS = 2000;

/**
 * How long mtcute waits before reconnecting a lost connection: at once, then doubling from 1 s up to
 * RETRY_MAX_DELAY clamped to [1 s, 5 s]. mtcute's default climbs to 5 s whatever our cap says.
 */
export function reconnectionDelayMs(previousWait: number | null, retryMaxDelayMs = MTCUTE_RECONNECT_CAP_MS): number {
  const cap = Math.min(MTCUTE_RECONNECT_CAP_MS, Math.max(MIN_RECONNECT_CAP_MS, retryMaxDelayMs));
  if (previousWait === null) return 0;
  return Math.min(cap, Math.max(MIN_RECONNECT_CAP_MS, previousWait * 2));
}

/**
 * mtcute's connect-attempt limiter ("sanity": 5 per 10 s) made no stricter than RETRY_MAX_DELAY (window
 * clamped to [2 s, 10 s]). With the default, after a few quick drops the next reconnect was held back up
 * to 10 s, so a session came back to `valid` well after the backoff cap the operator set (the reliability
 * suite measured 4–6 s with a 2 s cap). The default RETRY_MAX_DELAY (60 s) keeps mtcute's limiter as is.
 */
export function connectSanityWindowMs(retryMaxDelayMs = MTCUTE_SANITY_WINDOW_MS): number {
  return Math.min(MTCUTE_SANITY_WINDOW_MS, Math.max(MIN_SANITY_WINDOW_MS, retryMaxDelayMs));
}

/** Where a fresh client starts: Telegram's DC 2 (production or test), or the sandbox DC 2. */
export function defaultDcsFor(config: CreateClientOptions['config'], sandbox?: SandboxDcAddress): DcOptions {
  switch (config.environment) {
    case 'production':
      return defaultProductionDc;
    case 'test':
      return defaultTestDc;
    case 'sandbox': {
      const target = sandboxTarget(config, sandbox);
      return {
        main: { id: 2, ipAddress: target.host, port: target.port },
        media: { id: 2, ipAddress: target.host, port: target.port, mediaOnly: true },
      };
    }
  }
}

/** Watches getDifference answers for the gaps Telegram will not fill (see CreateClientOptions.onUpdatesGap). */
function updatesGapWatcher(onGap: (detail: string) => void): RpcCallMiddleware {
  return async (ctx, next) => {
    const result = (await next(ctx)) as { _?: string; pts?: number } | undefined;
    if (ctx.request._ === 'updates.getDifference' && result?._ === 'updates.differenceTooLong') {
      onGap(`Telegram answered differenceTooLong (from pts ${ctx.request.pts} to ${result.pts ?? '?'}): the updates in between were not delivered`);
    } else if (ctx.request._ === 'updates.getChannelDifference' && result?._ === 'updates.channelDifferenceTooLong') {
      onGap('Telegram answered channelDifferenceTooLong for a channel: its updates in between were not delivered');
    }
    return result;
  };
}

/**
 * One crypto provider for every client: it holds no per-client state, and initializing it reads and
 * instantiates mtcute's WebAssembly module — which mtcute asks for on every client's first connect, and
 * a thousand accounts need done once.
 */
class SharedCryptoProvider extends NodeCryptoProvider {
  private ready: Promise<void> | undefined;

  override initialize(): Promise<void> {
    this.ready ??= super.initialize();
    return this.ready;
  }
}

const sharedCrypto = new SharedCryptoProvider();

/**
 * Readies what every client needs first, ahead of the first client: the crypto provider's WebAssembly, and
 * the module of the storage provider, which the store loads on first use.
 */
export async function prepareClients(): Promise<void> {
  await Promise.all([sharedCrypto.initialize(), import('../store/mtcute-storage.js')]);
}

/** The sandbox DC keys already trusted (mtcute keeps trusted keys process-wide). */
const trustedKeys = new Set<string>();

async function cryptoProvider(trustKeyPem?: string): Promise<NodeCryptoProvider> {
  await sharedCrypto.initialize();
  if (trustKeyPem !== undefined && !trustedKeys.has(trustKeyPem)) {
    addPublicKey(sharedCrypto, trustKeyPem);
    trustedKeys.add(trustKeyPem);
  }
  return sharedCrypto;
}

/**
 * mtcute builds upload and download connection pools (4 + 2 + 2 sessions) for every client, though they
 * connect only when files move; the service moves none, and each idle session costs memory in each of
 * a thousand accounts. One each (mtcute needs at least one); the main pool keeps mtcute's own choice.
 */
function connectionCount(kind: 'main' | 'upload' | 'download' | 'downloadSmall'): number {
  return kind === 'main' ? 0 : 1;
}

export async function createTelegramClient(opts: CreateClientOptions): Promise<TelegramClient> {
  const { config, logger } = opts;
  installIdlePing();
  const crypto = await cryptoProvider(config.environment === 'sandbox' ? sandboxTarget(config, opts.sandbox).publicKeyPem : undefined);
  const defaultDcs = defaultDcsFor(config, opts.sandbox);
  const storage = await opts.storage(defaultDcs);
  // mtcute's default transport, made here: pongs are told by the transport their connection was made with.
  const transport = opts.transport ?? new TcpTransport();
  if (opts.onPong) watchPongs(transport, opts.onPong);

  const options: BaseOptions = {
    apiId: config.telegram.apiId,
    apiHash: config.telegram.apiHash,
    storage,
    crypto,
    defaultDcs,
    testMode: config.environment === 'test',
    logger: mtcuteLogManager(logger),
    // The account's client runs the updates loop once the session is known to be logged in, from the state
    // the account's event journal kept (catch-up: what arrived while the service was away, or between start
    // and the loop's first getState, is fetched by getDifference, never skipped). mtcute's updates are never
    // disabled (disableUpdates), not even with raw updates: only then does it send what was queued during a
    // key exchange as soon as the key is made, not a second later (test/unit/first-request.test.ts).
    updates: opts.rawUpdates ? false : { catchUp: true },
    // mtcute's default installs SIGINT/SIGTERM hooks that re-raise the signal; main.ts owns shutdown.
    storageOptions: { cleanup: false },
    network: {
      // Never sleep inside a request on FLOOD_WAIT (the service answers 429 and keeps the deadline on
      // disk), and do not retry Telegram's internal errors forever (our timeouts and backoff take over).
      middlewares: [
        ...(opts.onUpdatesGap ? [updatesGapWatcher(opts.onUpdatesGap)] : []),
        ...networkMiddlewares.basic({
          floodWaiter: { maxWait: 0 },
          internalErrors: { maxRetries: 2 },
        }),
      ],
      floodControl: { sanity: [{ count: MTCUTE_SANITY_CONNECTS, windowMs: connectSanityWindowMs(config.retryMaxDelayMs) }] },
      connectionCount,
      ...(opts.pingIntervalMs ? { pingInterval: opts.pingIntervalMs } : {}),
    },
    transport,
    initConnectionOptions: { deviceModel: deviceModelFor(config.instanceId), appVersion: '0.1.0' },
    // After an outage the session must come back within RETRY_MAX_DELAY: mtcute's reconnects follow it too.
    reconnectionStrategy: ({ previousWait }) => reconnectionDelayMs(previousWait, config.retryMaxDelayMs),
  };

  const base = new BaseTelegramClient(options);
  // The events read mtcute's raw updates (telegram/update-feed.ts): its parsed-update layer is not built.
  const client = new TelegramClient({ client: base, disableUpdates: true });
  // Without a listener mtcute logs every failed reconnect as an "unhandled error"; the account service
  // reports connectivity itself (status + one line per retry), so connection noise goes to debug.
  const errorLog = logger.child({ module: 'mtcute' });
  client.onError.add((err) => {
    const classified = classifyTelegramError(err);
    if (classified.kind === 'network') errorLog.debug({ error: classified.text }, 'mtcute connection error');
    else errorLog.warn({ error: classified.text }, redactSecretLikeText(`mtcute error: ${err.message}`));
  });
  return client;
}

type BaseOptions = ConstructorParameters<typeof BaseTelegramClient>[0];
