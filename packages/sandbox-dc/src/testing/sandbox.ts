/**
 * Test helpers around the sandbox DC: start one in a temp dir, restart it on the same ports and data,
 * and build unmodified mtcute clients pointed at it (configured with nothing but defaultDcs and the
 * DC's public key).
 *
 *   const dc = await startTestSandbox();
 *   const client = await sandboxClient(dc);
 *   await client.start({ phone: '+9996621234', code: '22222' });
 *   ...
 *   await client.destroy(); await dc.close();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  IntermediatePacketCodec,
  MemoryStorage,
  PaddedIntermediatePacketCodec,
  TcpTransport,
  TelegramClient,
  type BaseTelegramClientOptions,
} from '@mtcute/node';
import { NodeCryptoProvider, addPublicKey } from '@mtcute/node/utils.js';
import { startSandboxDc, type SandboxDc, type StartSandboxDcOptions } from '../index.js';

export interface TestSandbox extends SandboxDc {
  dataDir: string;
  /** DC 1 and DC 2 ports (kept across restart()). */
  ports: [number, number];
  /** Stops the DC (data kept) and starts it again on the same ports and data dir; use the returned handle from then on. */
  restart(): Promise<TestSandbox>;
  /** close() + removes the temp data dir (unless the caller passed its own dataDir). */
  dispose(): Promise<void>;
}

/** Starts a sandbox DC on free ports with a fresh temp data dir (or `opts.dataDir`). */
export async function startTestSandbox(opts: StartSandboxDcOptions = {}): Promise<TestSandbox> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'sandbox-dc-test-'));
  // Shared by every handle of this sandbox: dispose() on an old handle (from before a restart) closes
  // the running DC, not just the stopped one.
  const lineage: { current?: SandboxDc } = {};
  return start({ ...opts, dataDir }, ownDir, lineage);
}

async function start(opts: StartSandboxDcOptions & { dataDir: string }, ownDir: boolean, lineage: { current?: SandboxDc }): Promise<TestSandbox> {
  const dataDir = opts.dataDir;
  const dc = await startSandboxDc(opts);
  lineage.current = dc;
  const ports: [number, number] = [dc.dcs[0]!.port, dc.dcs[1]!.port];
  return {
    ...dc,
    dataDir,
    ports,
    async restart() {
      await lineage.current?.close();
      // The admin endpoint, if any, comes back on a new free port.
      return start({ ...opts, ports, adminPort: opts.adminPort === undefined ? undefined : 0 }, ownDir, lineage);
    },
    async dispose() {
      await lineage.current?.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type SandboxTransport = 'intermediate' | 'padded';

class PaddedTcpTransport extends TcpTransport {
  override packetCodec() {
    return new PaddedIntermediatePacketCodec();
  }
}

class IntermediateTcpTransport extends TcpTransport {
  override packetCodec() {
    return new IntermediatePacketCodec();
  }
}

export interface SandboxClientOptions {
  /** The DC the client starts on (default 2, as mtcute's production default). */
  dcId?: 1 | 2;
  /** Default: a fresh MemoryStorage. Pass a file-backed one to test persistence. */
  storage?: BaseTelegramClientOptions['storage'];
  transport?: SandboxTransport;
  apiId?: number;
  apiHash?: string;
  /** mtcute log level (default: MTCUTE_LOG_LEVEL env or 0 = off). */
  logLevel?: number;
  /** Any other TelegramClient option. */
  extra?: Partial<BaseTelegramClientOptions>;
}

/** The `defaultDcs` that point mtcute at one of the sandbox's DCs. */
export function sandboxDefaultDcs(dc: Pick<SandboxDc, 'dcs'>, dcId: 1 | 2 = 2): NonNullable<BaseTelegramClientOptions['defaultDcs']> {
  const target = dc.dcs.find((d) => d.id === dcId);
  if (!target) throw new Error(`sandbox has no DC ${dcId}`);
  return {
    main: { id: dcId, ipAddress: target.host, port: target.port },
    media: { id: dcId, ipAddress: target.host, port: target.port, mediaOnly: true },
  };
}

/** Makes mtcute trust the sandbox's RSA key (mtcute keeps trusted keys process-wide). */
export async function trustSandboxKey(publicKeyPem: string): Promise<void> {
  const crypto = new NodeCryptoProvider();
  await crypto.initialize();
  addPublicKey(crypto, publicKeyPem);
}

/** An unmodified mtcute TelegramClient pointed at the sandbox (not connected yet). */
export async function sandboxClient(dc: Pick<SandboxDc, 'dcs' | 'publicKeyPem'>, opts: SandboxClientOptions = {}): Promise<TelegramClient> {
  await trustSandboxKey(dc.publicKeyPem);
  return new TelegramClient({
    apiId: opts.apiId ?? 1,
    apiHash: opts.apiHash ?? 'sandbox-api-hash',
    storage: opts.storage ?? new MemoryStorage(),
    logLevel: opts.logLevel ?? Number(process.env.MTCUTE_LOG_LEVEL ?? 0),
    transport: opts.transport === 'padded' ? new PaddedTcpTransport() : new IntermediateTcpTransport(),
    defaultDcs: sandboxDefaultDcs(dc, opts.dcId ?? 2),
    ...opts.extra,
  });
}

/**
 * Logs a client in by phone through client.start(): test numbers (99966XYYYY) need no code argument,
 * other numbers read their code from the controls.
 */
export async function loginSandboxClient(
  client: TelegramClient,
  dc: Pick<SandboxDc, 'controls'>,
  phone: string,
  password?: string,
): ReturnType<TelegramClient['start']> {
  return client.start({
    phone,
    code: async () => dc.controls.lastCode(phone) ?? '',
    codeSentCallback: () => {},
    password,
  });
}
