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
import { acquireDataDirLock } from '@telegram-service/durable-files';
import { loadOrCreateDcRsaKey } from './crypto/rsa.js';
import { createControls, type SandboxControls } from './controls/controls.js';
import { startAdminServer, type AdminServer } from './controls/admin-http.js';
import type { DcAddress, SandboxLog } from './rpc/context.js';
import { RpcDispatcher } from './rpc/dispatcher.js';
import { FaultInjector } from './rpc/faults.js';
import { UpdateFeed, type UpdateLimits } from './rpc/update-feed.js';
import { DcServer } from './server/dc-server.js';
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
   * Connection limits of each DC's TCP server; `pushGraceMs`: how long a session whose connection is
   * gone still gets pushed updates (queued for its return; default 2 minutes, later it gets updatesTooLong).
   */
  limits?: { maxConnections?: number; idleTimeoutMs?: number; maxFrameBytes?: number; pushGraceMs?: number };
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

  try {
    if (opts.dataDir) {
      // One DC per data dir (also within this process): two would overwrite each other's state.
      // Creates the directory (0700) if missing.
      const lock = await acquireDataDirLock(opts.dataDir, { fileName: 'sandbox-dc.lock', owner: 'sandbox DC' });
      cleanups.push(() => lock.release());
      for (const warning of lock.warnings) log?.('warn', warning);
    }

    const rsaKey = await loadOrCreateDcRsaKey(opts.dataDir);
    const state = new SandboxState({ dataDir: opts.dataDir, codeLifetimeMs: opts.codeLifetimeMs, keySealSecret: rsaKey.privateKeyPem });
    cleanups.push(() => state.close());
    if (state.keys.unrecoverableCount > 0) {
      log?.('warn', 'stored auth keys sealed with another RSA key cannot be used; their clients must log in again', {
        count: state.keys.unrecoverableCount,
      });
    }
    if (opts.loginTokenLifetimeMs !== undefined) state.loginTokens.lifetimeMs = opts.loginTokenLifetimeMs;
    if (opts.futureAuthTokenLifetimeMs !== undefined) state.futureAuthTokens.lifetimeMs = opts.futureAuthTokenLifetimeMs;
    const faults = new FaultInjector();
    const servers: DcServer[] = [];
    const dcs = (): DcAddress[] => servers.map((s) => ({ id: s.dcId, host: advertisedHost(host), port: s.port }));
    // Both DCs' live sessions: a user's updates reach their keys wherever the key lives.
    const live: LiveSessions = {
      push: (authKeyIds, update, pushOpts) => servers.reduce((n, s) => n + s.pushToKeys(authKeyIds, update, pushOpts), 0),
      liveSessionIds: (authKeyId) => servers.flatMap((s) => s.liveSessionIds(authKeyId)),
    };
    const feed = new UpdateFeed(state, live, opts.updateLimits);
    const referee = new KeyReferee(live);
    const rpc = new RpcDispatcher({ state, faults, dcs, testMode: opts.testMode === true, feed, referee, log });

    for (const [i, dcId] of SANDBOX_DC_IDS.entries()) {
      const server = new DcServer({
        dcId,
        host,
        port: ports[i]!,
        rsaKey,
        authKeys: state.keys.forDc(dcId),
        rpc,
        testMode: opts.testMode,
        limits: opts.limits,
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
