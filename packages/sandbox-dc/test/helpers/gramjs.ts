/**
 * Unmodified GramJS (npm `telegram`) pointed at a sandbox DC through its own public extension points:
 *  - the DC's RSA key goes into GramJS's key list, `_serverKeys` (exported by telegram/crypto/RSA),
 *    keyed by the signed decimal fingerprint, with the modulus as GramJS's own big integer;
 *  - the first DC's address is `session.setDC(2, host, 80)`;
 *  - GramJS dials port 80 for the session's DC and 443 for DCs it learns from help.getConfig, whatever
 *    port they give, so the `connection` class it is given (a constructor parameter, normally
 *    ConnectionTCPFull / Abridged / Obfuscated) is that class with the DC's real port filled in by DC id.
 */
import { createPublicKey } from 'node:crypto';
import { TelegramClient } from 'telegram';
import { _serverKeys } from 'telegram/crypto/RSA.js';
import { readBigIntFromBuffer } from 'telegram/Helpers.js';
import { Logger, LogLevel } from 'telegram/extensions/Logger.js';
import { ConnectionTCPAbridged, ConnectionTCPFull, ConnectionTCPObfuscated } from 'telegram/network/index.js';
import type { Connection } from 'telegram/network/index.js';
import { StringSession } from 'telegram/sessions/index.js';
import type { SandboxDc } from '../../src/index.js';

export type GramTransport = 'full' | 'abridged' | 'obfuscated';

const CONNECTIONS = { full: ConnectionTCPFull, abridged: ConnectionTCPAbridged, obfuscated: ConnectionTCPObfuscated };

/** Adds the sandbox's key to GramJS's (process-wide) list of trusted server keys. */
export function trustSandboxKeyInGramJs(dc: Pick<SandboxDc, 'publicKeyPem' | 'publicKeyFingerprint'>): void {
  const jwk = createPublicKey(dc.publicKeyPem).export({ format: 'jwk' });
  const n = Buffer.from(jwk.n!, 'base64url');
  const e = Buffer.from(jwk.e!, 'base64url').readUIntBE(0, Buffer.from(jwk.e!, 'base64url').length);
  _serverKeys.set(dc.publicKeyFingerprint, { n: readBigIntFromBuffer(n, false, false), e });
}

type ConnectionParams = ConstructorParameters<typeof ConnectionTCPFull>[0];

/** GramJS's connection class for `transport`, dialing the sandbox DC's port for the DC id it connects to. */
export function sandboxConnection(dc: Pick<SandboxDc, 'dcs'>, transport: GramTransport): typeof Connection {
  const Base = CONNECTIONS[transport] as typeof ConnectionTCPFull;
  class SandboxConnection extends Base {
    constructor(params: ConnectionParams) {
      const target = dc.dcs.find((d) => d.id === params.dcId);
      if (!target) throw new Error(`the sandbox has no DC ${params.dcId}`);
      super({ ...params, ip: target.host, port: target.port });
    }
  }
  return SandboxConnection as unknown as typeof Connection;
}

/** An unmodified GramJS TelegramClient for the sandbox, starting on DC 2 (or the DC in `savedSession`). */
export function gramjsClient(dc: Pick<SandboxDc, 'dcs' | 'publicKeyPem' | 'publicKeyFingerprint'>, transport: GramTransport, savedSession = ''): TelegramClient {
  trustSandboxKeyInGramJs(dc);
  const session = new StringSession(savedSession);
  // GramJS stores the port as a 16-bit signed number and does not use it: 80 is what it dials anyway.
  if (!savedSession) session.setDC(2, dc.dcs[1]!.host, 80);
  return new TelegramClient(session, 12345, 'sandbox-api-hash', {
    connection: sandboxConnection(dc, transport),
    connectionRetries: 20,
    retryDelay: 100,
    baseLogger: new Logger(process.env.GRAMJS_LOG_LEVEL ? (process.env.GRAMJS_LOG_LEVEL as LogLevel) : LogLevel.NONE),
  });
}
