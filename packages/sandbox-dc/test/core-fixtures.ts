/**
 * Test fixtures for the protocol core: a DcServer on 127.0.0.1:0 with an in-memory AuthKeyStore and a
 * tiny RpcHandler defined here (the real one lives in src/sandbox-dc/rpc), plus an mtcute client
 * pointed at it.
 */
import {
  IntermediatePacketCodec,
  MemoryStorage,
  ObfuscatedPacketCodec,
  PaddedIntermediatePacketCodec,
  TcpTransport,
  TelegramClient,
  type IPacketCodec,
  type TelegramTransport,
} from '@mtcute/node';
import type { BasicDcOption } from '@mtcute/node/utils.js';
import { NodeCryptoProvider, addPublicKey } from '@mtcute/node/utils.js';
import Long from 'long';
import { generateDcRsaKey, type DcRsaKey } from '../src/crypto/rsa.js';
import { DcServer, type DcServerOptions } from '../src/server/dc-server.js';
import type { AuthKeyRecord, AuthKeyStore, RpcCall, RpcHandler, RpcReply, TlObject } from '../src/types.js';

export class MemoryAuthKeyStore implements AuthKeyStore {
  readonly keys = new Map<string, AuthKeyRecord>();
  get(id: string): AuthKeyRecord | undefined {
    return this.keys.get(id);
  }
  add(record: AuthKeyRecord): void {
    this.keys.set(record.id, record);
  }
  setLayer(id: string, layer: number, client?: AuthKeyRecord['client']): void {
    const r = this.keys.get(id);
    if (r) this.keys.set(id, { ...r, layer, client: client ?? r.client });
  }
}

const SELF_ID = 777000123;

export function selfUser(): TlObject {
  return {
    _: 'user',
    self: true,
    id: SELF_ID,
    accessHash: Long.fromNumber(42),
    firstName: 'Core',
    lastName: 'Test',
    phone: '9996621234',
  };
}

/** Answers the handful of methods mtcute calls on connect, plus help.getConfig and a slow method. */
export class TinyRpcHandler implements RpcHandler {
  readonly calls: RpcCall[] = [];
  async handle(call: RpcCall): Promise<RpcReply> {
    this.calls.push(call);
    switch (call.method._) {
      case 'users.getUsers':
        return { result: [selfUser()] };
      case 'updates.getState':
        return { result: { _: 'updates.state', pts: 1, qts: 0, date: Math.floor(Date.now() / 1000), seq: 1, unreadCount: 0 } };
      case 'updates.getDifference':
        return { result: { _: 'updates.differenceEmpty', date: Math.floor(Date.now() / 1000), seq: 1 } };
      case 'help.getNearestDc':
        return { result: { _: 'nearestDc', country: 'ZZ', thisDc: 2, nearestDc: 2 } };
      case 'help.getConfig':
        return { result: testConfig() };
      case 'help.getCountriesList':
        // A big answer, to exercise gzip_packed out.
        return {
          result: {
            _: 'help.countriesList',
            countries: Array.from({ length: 400 }, (_, i) => ({
              _: 'help.country',
              iso2: `C${i}`,
              defaultName: `Country number ${i} with a long name`,
              countryCodes: [{ _: 'help.countryCode', countryCode: String(i) }],
            })),
            hash: 0,
          },
        };
      default:
        return { error: { code: 400, message: `METHOD_NOT_IN_TEST_HANDLER` } };
    }
  }
}

export function testConfig(): TlObject {
  const now = Math.floor(Date.now() / 1000);
  return {
    _: 'config',
    date: now,
    expires: now + 3600,
    testMode: false,
    thisDc: 2,
    dcOptions: [],
    dcTxtDomainName: 'localhost',
    chatSizeMax: 200,
    megagroupSizeMax: 200000,
    forwardedCountMax: 100,
    onlineUpdatePeriodMs: 210000,
    offlineBlurTimeoutMs: 5000,
    offlineIdleTimeoutMs: 30000,
    onlineCloudTimeoutMs: 300000,
    notifyCloudDelayMs: 30000,
    notifyDefaultDelayMs: 1500,
    pushChatPeriodMs: 60000,
    pushChatLimit: 2,
    editTimeLimit: 172800,
    revokeTimeLimit: 2147483647,
    revokePmTimeLimit: 2147483647,
    ratingEDecay: 2419200,
    stickersRecentLimit: 200,
    channelsReadMediaPeriod: 604800,
    callReceiveTimeoutMs: 20000,
    callRingTimeoutMs: 90000,
    callConnectTimeoutMs: 30000,
    callPacketTimeoutMs: 10000,
    meUrlPrefix: 'https://t.me/',
    captionLengthMax: 1024,
    messageLengthMax: 4096,
    webfileDcId: 2,
    reactionsDefault: undefined,
  };
}

export interface TestDc {
  server: DcServer;
  store: MemoryAuthKeyStore;
  rpc: TinyRpcHandler;
  rsa: DcRsaKey;
  logs: { level: string; msg: string; fields?: Record<string, unknown> }[];
}

let sharedRsa: DcRsaKey | undefined;
/** RSA key generation takes a moment; one per test file is enough. */
export function testRsaKey(): DcRsaKey {
  sharedRsa ??= generateDcRsaKey();
  return sharedRsa;
}

export async function startTestDc(extra: Partial<DcServerOptions> = {}): Promise<TestDc> {
  const store = new MemoryAuthKeyStore();
  const rpc = new TinyRpcHandler();
  const rsa = testRsaKey();
  const logs: TestDc['logs'] = [];
  const server = new DcServer({
    dcId: 2,
    host: '127.0.0.1',
    port: 0,
    rsaKey: rsa,
    authKeys: store,
    rpc,
    log: (level, msg, fields) => {
      logs.push({ level, msg, fields });
      if (logs.length > 5000) logs.splice(0, 1000);
    },
    ...extra,
  });
  await server.start();
  return { server, store, rpc, rsa, logs };
}

export type MtcuteTransportKind = 'intermediate' | 'padded' | 'obfuscated' | 'obfuscated-padded';

/** mtcute's own TCP transport with one of its own packet codecs (intermediate is its default). */
class ChosenTcpTransport implements TelegramTransport {
  private readonly tcp = new TcpTransport();
  constructor(private readonly kind: MtcuteTransportKind) {}
  connect(dc: BasicDcOption) {
    return this.tcp.connect(dc);
  }
  packetCodec(): IPacketCodec {
    switch (this.kind) {
      case 'intermediate':
        return new IntermediatePacketCodec();
      case 'padded':
        return new PaddedIntermediatePacketCodec();
      case 'obfuscated':
        return new ObfuscatedPacketCodec(new IntermediatePacketCodec());
      case 'obfuscated-padded':
        return new ObfuscatedPacketCodec(new PaddedIntermediatePacketCodec());
    }
  }
}

/** An unmodified mtcute client configured with nothing but defaultDcs, the DC's key and a transport. */
export async function mtcuteClient(dc: TestDc, transport: MtcuteTransportKind = 'intermediate', storage = new MemoryStorage()): Promise<TelegramClient> {
  const crypto = new NodeCryptoProvider();
  await crypto.initialize();
  addPublicKey(crypto, dc.rsa.publicKeyPem);
  const port = dc.server.port;
  return new TelegramClient({
    apiId: 1,
    apiHash: 'test-api-hash',
    storage,
    logLevel: Number(process.env.MTCUTE_LOG_LEVEL ?? 0),
    transport: new ChosenTcpTransport(transport),
    defaultDcs: {
      main: { id: 2, ipAddress: '127.0.0.1', port },
      media: { id: 2, ipAddress: '127.0.0.1', port, mediaOnly: true },
    },
  });
}
