/**
 * The sandbox DC: two MTProto data centers (ids 1 and 2) on two TCP ports sharing one account
 * database, started in-process. See ARCHITECTURE.md for the layers.
 *
 *   const dc = await startSandboxDc({ dataDir: '/tmp/dc' });
 *   // point a client at dc.dcs[1] (DC 2) with dc.publicKeyPem; log in as +9996621234 with 22222
 *   dc.controls.createUser({ phone: '+15550001111', password: 'secret' });
 *   await dc.close();
 *
 * With a dataDir the RSA key, accounts, auth keys (with the user each is logged in as) and messages
 * survive a restart, so clients stay logged in; without one everything is in memory.
 */
import { acquireDataDirLock, openFileLimit, type DataDirLockLostError } from '@telegram-service/durable-files';
import { loadOrCreateDcRsaKey } from './crypto/rsa.js';
import { createControls, type SandboxControls } from './controls/controls.js';
import { startAdminServer, type AdminServer } from './controls/admin-http.js';
import type { DcAddress, SandboxLog } from './rpc/context.js';
import { RpcDispatcher } from './rpc/dispatcher.js';
import { FaultInjector } from './rpc/faults.js';
import { UpdateFeed, type UpdateLimits } from './rpc/update-feed.js';
import { DcServer, OVERLOAD_ALLOWANCE } from './server/dc-server.js';
import { KeyReferee } from './state/key-referee.js';
import { SandboxState } from './state/sandbox-state.js';
import type { LiveSessions } from './types.js';

export type { SandboxControls, CreateUserInput, UserInfo, AuthKeyInfo } from './controls/controls.js';
export type { UpdateLimits } from './rpc/update-feed.js';
export type { DoubleOwnerMoment, DoubleOwnerReport } from './state/key-referee.js';
export { ControlError } from './controls/controls.js';
export type { DcAddress, SandboxLog } from './rpc/context.js';
export type { InjectedError } from './rpc/faults.js';

export const SANDBOX_DC_IDS = [1, 2] as const;

export interface StartSandboxDcOptions {
  /** Address both DCs listen on (default 127.0.0.1). */
  host?: string;
  /** Where the DC keeps its RSA key, accounts, keys and messages; omit for memory only. */
  dataDir?: string;
  /** Ports of DC 1 and DC 2; 0 or omitted = any free port. `{ dc1 }` alone puts DC 2 on dc1 + 1. */
  ports?: [number, number] | { dc1?: number; dc2?: number };
  /** Start the loopback admin HTTP endpoint on this port (0 = any free port); omitted = no endpoint. */
  adminPort?: number;
  /** Lifetime of login codes (default 5 minutes). */
  codeLifetimeMs?: number;
  /** Lifetime of QR login tokens (default 30 s, as Telegram's). */
  loginTokenLifetimeMs?: number;
  /** Lifetime of future auth tokens (default 30 days). */
  futureAuthTokenLifetimeMs?: number;
  /** getDifference's slice size and differenceTooLong gap (defaults 100 events, 5000 pts). */
  updateLimits?: Partial<UpdateLimits>;
  /** true: key exchanges must name DCs as id + 10000 (as Telegram's test DCs); false: plain ids; omitted: either. */
  testMode?: boolean;
  /**
   * Connection limits of each DC's TCP server. maxConnections defaults to what the process's open-file
   * limit allows for two DCs (at most 1,000 each; see defaultMaxConnections). `pushGraceMs`: how long a
   * session whose connection is gone still gets pushed updates (queued for its return; default 2 minutes,
   * later it gets updatesTooLong).
   */
  limits?: { maxConnections?: number; idleTimeoutMs?: number; maxFrameBytes?: number; pushGraceMs?: number };
  /**
   * Called once when the data directory's lock is found lost (deleted, or replaced by another
   * process's): by then the DC has stopped writing its state — the directory may be another DC's now.
   * The caller decides what follows (the CLI and the service exit); without it the DC also stops serving.
   */
  onLockLost?: (err: DataDirLockLostError) => void;
  log?: SandboxLog;
}

export interface SandboxDc {
  /** Where each DC listens, DC 1 first. */
  dcs: DcAddress[];
  /** The DCs' RSA public key, PKCS#1 PEM (`-----BEGIN RSA PUBLIC KEY-----`), for mtcute's addPublicKey. */
  publicKeyPem: string;
  /**
   * The key's fingerprint as a signed 64-bit decimal, the form GramJS's `_serverKeys` and Pyrogram's
   * `server_public_keys` are keyed by (mtcute and Telethon compute it from the PEM themselves).
   */
  publicKeyFingerprint: string;
  controls: SandboxControls;
  /** Base URL of the admin HTTP endpoint, when adminPort was given. */
  adminUrl?: string;
  dataDir?: string;
  /** Stops both DCs and the admin endpoint and saves the state. Safe to call twice. */
  close(): Promise<void>;
}

function resolvePorts(ports: StartSandboxDcOptions['ports']): [number, number] {
  if (Array.isArray(ports)) return [ports[0] ?? 0, ports[1] ?? 0];
  const dc1 = ports?.dc1 ?? 0;
  const dc2 = ports?.dc2 ?? (dc1 ? dc1 + 1 : 0);
  return [dc1, dc2];
}

/** Open files kept free for everything but the DCs' connections (state files, the admin endpoint, stdio, libuv). */
const RESERVED_FILES = 128;
const MAX_DEFAULT_CONNECTIONS = 1_000;

/**
 * Connections each of the two DCs accepts by default: at most 1,000, fewer when the process's
 * open-file limit would not hold two DCs full of them (each connection is a file descriptor).
 */
export function defaultMaxConnections(fileLimit = openFileLimit()): number {
  if (fileLimit === undefined) return MAX_DEFAULT_CONNECTIONS;
  const perDc = Math.floor((fileLimit - RESERVED_FILES) / 2) - OVERLOAD_ALLOWANCE;
  return Math.max(1, Math.min(MAX_DEFAULT_CONNECTIONS, perDc));
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${port}`);
}

/** The address clients should dial: a wildcard listen address is reached through loopback. */
function advertisedHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}

export async function startSandboxDc(opts: StartSandboxDcOptions = {}): Promise<SandboxDc> {
  const host = opts.host ?? '127.0.0.1';
  const ports = resolvePorts(opts.ports);
  ports.forEach(checkPort);
  const log = opts.log;

  const cleanups: (() => Promise<void> | void)[] = [];
  const runCleanups = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (e) {
        log?.('warn', 'sandbox DC cleanup failed', { err: (e as Error).message });
      }
    }
  };

  /** Set once the state exists: what a lost lock must stop at once. */
  let state: SandboxState | undefined;
  const servers: DcServer[] = [];
  const onLockLost = (err: DataDirLockLostError): void => {
    state?.abandon();
    log?.('error', 'data directory lock lost; the sandbox DC stopped writing its state', { err: err.message });
    if (opts.onLockLost) opts.onLockLost(err);
    else for (const server of servers) void server.close();
  };

  try {
    if (opts.dataDir) {
      // One DC per data dir (also within this process): two would overwrite each other's state.
      // Creates the directory (0700) if missing; refuses one that is not private.
      const lock = await acquireDataDirLock(opts.dataDir, { fileName: 'sandbox-dc.lock', owner: 'sandbox DC', onLost: onLockLost });
      cleanups.push(() => lock.release());
      for (const warning of lock.warnings) log?.('warn', warning);
    }

    const warn = (msg: string): void => log?.('warn', msg);
    const rsaKey = await loadOrCreateDcRsaKey(opts.dataDir, warn);
    state = new SandboxState({ dataDir: opts.dataDir, codeLifetimeMs: opts.codeLifetimeMs, keySealSecret: rsaKey.privateKeyPem, warn });
    const dcState = state;
    cleanups.push(() => dcState.close());
    if (state.keys.unrecoverableCount > 0) {
      log?.('warn', 'stored auth keys sealed with another RSA key cannot be used; their clients must log in again', {
        count: state.keys.unrecoverableCount,
      });
    }
    if (opts.loginTokenLifetimeMs !== undefined) state.loginTokens.lifetimeMs = opts.loginTokenLifetimeMs;
    if (opts.futureAuthTokenLifetimeMs !== undefined) state.futureAuthTokens.lifetimeMs = opts.futureAuthTokenLifetimeMs;
    const faults = new FaultInjector();
    const dcs = (): DcAddress[] => servers.map((s) => ({ id: s.dcId, host: advertisedHost(host), port: s.port }));
    // Both DCs' live sessions: a user's updates reach their keys wherever the key lives.
    const live: LiveSessions = {
      push: (authKeyIds, update, pushOpts) => servers.reduce((n, s) => n + s.pushToKeys(authKeyIds, update, pushOpts), 0),
      liveSessionIds: (authKeyId) => servers.flatMap((s) => s.liveSessionIds(authKeyId)),
    };
    const feed = new UpdateFeed(state, live, opts.updateLimits);
    const referee = new KeyReferee(live);
    const rpc = new RpcDispatcher({ state, faults, dcs, testMode: opts.testMode === true, feed, referee, log });
    const limits = { ...opts.limits, maxConnections: opts.limits?.maxConnections ?? defaultMaxConnections() };

    for (const [i, dcId] of SANDBOX_DC_IDS.entries()) {
      const server = new DcServer({
        dcId,
        host,
        port: ports[i]!,
        rsaKey,
        authKeys: state.keys.forDc(dcId),
        rpc,
        testMode: opts.testMode,
        limits,
        log,
      });
      await server.start();
      servers.push(server);
      cleanups.push(() => server.close());
    }

    const controls = createControls(state, faults, () => servers, { feed, referee });
    let admin: AdminServer | undefined;
    if (opts.adminPort !== undefined) {
      checkPort(opts.adminPort);
      admin = await startAdminServer(controls, opts.adminPort);
      cleanups.push(() => admin!.close());
    }

    let closing: Promise<void> | undefined;
    return {
      dcs: dcs(),
      publicKeyPem: rsaKey.publicKeyPem,
      publicKeyFingerprint: rsaKey.fingerprint.toString(),
      controls,
      adminUrl: admin?.url,
      dataDir: opts.dataDir,
      close: () => (closing ??= runCleanups()),
    };
  } catch (e) {
    await runCleanups();
    throw e;
  }
}
