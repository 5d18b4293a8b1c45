/**
 * `npm run sandbox-dc -- --port 9443 --data-dir DIR`: runs the sandbox DC until SIGINT/SIGTERM.
 * Prints, on stdout:
 *   listening dc=1 127.0.0.1:9443
 *   listening dc=2 127.0.0.1:9444
 *   admin http://127.0.0.1:<port>
 *   fingerprint -1234567890123456789   (signed decimal, as GramJS and Pyrogram key their RSA key lists)
 *   -----BEGIN RSA PUBLIC KEY----- … (PKCS#1 PEM for mtcute's addPublicKey, Telethon's rsa.add_key)
 * Logs go to stderr (warnings only, unless --verbose).
 * Exit codes: 0 stopped by a signal, 1 failure (including a data directory in use, or its lock lost
 * while running), 2 bad arguments or a data directory refused (not private, or a file in it a symlink).
 */
import { parseArgs } from 'node:util';
import { UntrustedPathError, type DataDirLockLostError } from '@telegram-service/durable-files';
import { defaultMaxConnections, startSandboxDc, type SandboxLog } from './index.js';

const USAGE = `usage: sandbox-dc [--port N] [--port2 N] [--host H] [--data-dir DIR] [--admin-port N]
                  [--max-connections N] [--code-lifetime-ms MS] [--test-mode] [--verbose]
  --port          DC 1 port (default 9443); DC 2 listens on --port2 or port + 1 (0 = any free port)
  --host          listen address (default 127.0.0.1)
  --data-dir      keep RSA key, accounts, auth keys and messages here (default: memory only); it must
                  be this user's and writable by no one else
  --admin-port    loopback admin HTTP endpoint port (default: any free port)
  --max-connections  connections each DC accepts at once (default ${defaultMaxConnections()}: at most 1000,
                  fewer under a low open-file limit); beyond it, connections without a proven auth key
                  are closed first
  --code-lifetime-ms  login code lifetime (default 300000)
  --test-mode     require test-DC ids (id + 10000) in key exchanges
  --verbose       log everything to stderr`;

/** The data directory may belong to another DC now: stop at once, without the final save of a graceful stop. */
function exitForLostLock(err: DataDirLockLostError): never {
  process.stderr.write(`sandbox-dc: data directory lock lost: ${err.message}; exiting so that two sandbox DCs never share one data directory\n`);
  process.exit(1);
}

function intOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535 * 1000) throw new Error(`--${name} must be a non-negative integer, got "${value}"`);
  return n;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        port2: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'admin-port': { type: 'string' },
        'max-connections': { type: 'string' },
        'code-lifetime-ms': { type: 'string' },
        'test-mode': { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  let port1: number, port2: number, adminPort: number, codeLifetimeMs: number, maxConnections: number | undefined;
  try {
    port1 = intOption('port', values.port, 9443);
    port2 = intOption('port2', values.port2, port1 === 0 ? 0 : port1 + 1);
    adminPort = intOption('admin-port', values['admin-port'], 0);
    codeLifetimeMs = intOption('code-lifetime-ms', values['code-lifetime-ms'], 5 * 60_000);
    maxConnections = values['max-connections'] === undefined ? undefined : intOption('max-connections', values['max-connections'], 0);
    if (maxConnections === 0) throw new Error('--max-connections must be at least 1');
    if (port1 > 65535 || port2 > 65535 || adminPort > 65535) throw new Error('ports must be at most 65535');
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }

  const verbose = values.verbose === true;
  const log: SandboxLog = (level, msg, fields) => {
    if (!verbose && level !== 'warn' && level !== 'error') return;
    process.stderr.write(`${new Date().toISOString()} ${level} ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}\n`);
  };

  const dc = await startSandboxDc({
    host: values.host,
    dataDir: values['data-dir'],
    ports: [port1, port2],
    adminPort,
    codeLifetimeMs,
    testMode: values['test-mode'] ? true : undefined,
    ...(maxConnections !== undefined ? { limits: { maxConnections } } : {}),
    onLockLost: exitForLostLock,
    log,
  });
  for (const d of dc.dcs) process.stdout.write(`listening dc=${d.id} ${d.host}:${d.port}\n`);
  process.stdout.write(`admin ${dc.adminUrl}\n`);
  process.stdout.write(`fingerprint ${dc.publicKeyFingerprint}\n`);
  process.stdout.write(dc.publicKeyPem.endsWith('\n') ? dc.publicKeyPem : `${dc.publicKeyPem}\n`);
  if (!values['data-dir']) process.stderr.write('no --data-dir: state is kept in memory only\n');

  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await dc.close();
  process.stdout.write('stopped\n');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now; should some handle linger, do not hang the shell.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (e: unknown) => {
    process.stderr.write(`sandbox-dc: ${(e as Error).message ?? String(e)}\n`);
    process.exitCode = e instanceof UntrustedPathError ? 2 : 1;
  },
);
