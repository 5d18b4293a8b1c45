import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  formatDuration,
  loadConfig,
  mergeEnv,
  parseDuration,
  readDotEnv,
  resolveConfig,
  SANDBOX_API_HASH,
  SANDBOX_API_ID,
} from '../../src/config/index.js';
import { DEFAULT_EVENTS_CONFIG } from '../../src/config/load-config.js';

const CWD = '/srv/app';
const API_HASH = '0123456789abcdef0123456789abcdef';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env, CWD);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const temps: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-test-'));
  temps.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('loadConfig defaults', () => {
  it('an empty environment is sandbox mode with every default', () => {
    const config = loadConfig({}, CWD);
    expect(config).toEqual({
      environment: 'sandbox',
      telegram: { apiId: SANDBOX_API_ID, apiHash: SANDBOX_API_HASH },
      sandbox: { port: 9443, maxConnections: 64 },
      dataDir: '/srv/app/data',
      host: '127.0.0.1',
      port: 8080,
      httpMaxConnections: 1024,
      httpRequestTimeoutMs: 60_000,
      sessionMaxIdleMs: 7 * 24 * 3600 * 1000,
      clientReadyTimeoutMs: 15_000,
      retryMaxDelayMs: 60_000,
      healthProbeIntervalMs: 30_000,
      qrLoginTimeoutMs: 600_000,
      validationConcurrency: 8,
      logLevel: 'info',
      logFile: '/srv/app/data/telegram_service.log',
      loginRateLimit: { max: 10, windowMs: 60_000 },
      events: {
        journalMaxBytes: 64 * 1024 * 1024,
        journalMaxAgeMs: 7 * 24 * 3600 * 1000,
        sseHeartbeatMs: 15_000,
        sseSlowClientTimeoutMs: 30_000,
        sseMaxStreams: 16,
        webhookTimeoutMs: 10_000,
        webhookRetryMaxMs: 300_000,
        webhookAllowedHosts: [],
        idempotencyTtlMs: 24 * 3600 * 1000,
      },
      store: { kind: 'files' },
      leaseTtlMs: 6000,
    });
    expect(config.events).toEqual(DEFAULT_EVENTS_CONFIG);
    expect(config.apiToken).toBeUndefined();
    expect(config.sessionEncryptionKey).toBeUndefined();
  });

  it('empty values count as unset', () => {
    const config = loadConfig({ TELEGRAM_API_ID: '', TELEGRAM_API_HASH: ' ', PORT: '', API_TOKEN: '' }, CWD);
    expect(config.environment).toBe('sandbox');
    expect(config.port).toBe(8080);
    expect(config.apiToken).toBeUndefined();
  });
});

describe('loadConfig: every variable', () => {
  it('TELEGRAM_API_ID + TELEGRAM_API_HASH → production', () => {
    const config = loadConfig({ TELEGRAM_API_ID: '12345', TELEGRAM_API_HASH: API_HASH }, CWD);
    expect(config.environment).toBe('production');
    expect(config.telegram).toEqual({ apiId: 12345, apiHash: API_HASH });
  });

  it('TELEGRAM_TEST_DC=1 → test', () => {
    const env = { TELEGRAM_API_ID: '12345', TELEGRAM_API_HASH: API_HASH };
    expect(loadConfig({ ...env, TELEGRAM_TEST_DC: '1' }, CWD).environment).toBe('test');
    expect(loadConfig({ ...env, TELEGRAM_TEST_DC: 'true' }, CWD).environment).toBe('test');
    expect(loadConfig({ ...env, TELEGRAM_TEST_DC: '0' }, CWD).environment).toBe('production');
  });

  it('DATA_DIR: relative to the cwd, or absolute; LOG_FILE follows it by default', () => {
    expect(loadConfig({ DATA_DIR: 'state' }, CWD)).toMatchObject({
      dataDir: '/srv/app/state',
      logFile: '/srv/app/state/telegram_service.log',
    });
    expect(loadConfig({ DATA_DIR: '/var/lib/tg' }, CWD).dataDir).toBe('/var/lib/tg');
  });

  it('HOST, PORT, LOG_LEVEL, LOG_FILE', () => {
    const config = loadConfig({ HOST: '0.0.0.0', PORT: '0', LOG_LEVEL: 'DEBUG', LOG_FILE: 'logs/x.log' }, CWD);
    expect(config).toMatchObject({ host: '0.0.0.0', port: 0, logLevel: 'debug', logFile: '/srv/app/logs/x.log' });
  });

  it('API_TOKEN', () => {
    expect(loadConfig({ API_TOKEN: 'a-long-enough-token-123' }, CWD).apiToken).toBe('a-long-enough-token-123');
  });

  it('durations: SESSION_MAX_IDLE, CLIENT_READY_TIMEOUT, RETRY_MAX_DELAY', () => {
    const config = loadConfig({ SESSION_MAX_IDLE: '0', CLIENT_READY_TIMEOUT: '90s', RETRY_MAX_DELAY: '15m' }, CWD);
    expect(config).toMatchObject({ sessionMaxIdleMs: 0, clientReadyTimeoutMs: 90_000, retryMaxDelayMs: 900_000 });
    expect(loadConfig({ SESSION_MAX_IDLE: '12h' }, CWD).sessionMaxIdleMs).toBe(12 * 3600_000);
    expect(loadConfig({ SESSION_MAX_IDLE: '2500' }, CWD).sessionMaxIdleMs).toBe(2500);
  });

  it('QR_LOGIN_TIMEOUT (0 = no limit)', () => {
    expect(loadConfig({ QR_LOGIN_TIMEOUT: '2m' }, CWD).qrLoginTimeoutMs).toBe(120_000);
    expect(loadConfig({ QR_LOGIN_TIMEOUT: '0' }, CWD).qrLoginTimeoutMs).toBe(0);
    expect(problemsOf({ QR_LOGIN_TIMEOUT: 'soon' })[0]).toMatch(/^QR_LOGIN_TIMEOUT="soon" must be a duration/);
  });

  it('SANDBOX_DC_PORT', () => {
    expect(loadConfig({ SANDBOX_DC_PORT: '20000' }, CWD).sandbox).toEqual({ port: 20000, maxConnections: 64 });
  });

  it('SANDBOX_DC_ADMIN_PORT: only for the DC the service starts itself', () => {
    expect(loadConfig({ SANDBOX_DC_ADMIN_PORT: '9500' }, CWD).sandbox).toEqual({ port: 9443, maxConnections: 64, adminPort: 9500 });
    expect(problemsOf({ SANDBOX_DC_ADMIN_PORT: '0' })[0]).toMatch(/^SANDBOX_DC_ADMIN_PORT="0" must be a port number from 1 to 65535/);
    expect(problemsOf({ SANDBOX_DC_ADMIN_PORT: '9500', SANDBOX_DC: '127.0.0.1:9444', SANDBOX_DC_PUBLIC_KEY_FILE: 'dc.pem' })).toEqual([
      'SANDBOX_DC_ADMIN_PORT is only used with the sandbox DC the service starts itself (sandbox mode, no SANDBOX_DC)',
    ]);
    expect(problemsOf({ SANDBOX_DC_ADMIN_PORT: '9500', TELEGRAM_API_ID: '12345', TELEGRAM_API_HASH: '0123456789abcdef0123456789abcdef' })).toContain(
      'SANDBOX_DC_ADMIN_PORT is only used with the sandbox DC the service starts itself (sandbox mode, no SANDBOX_DC)',
    );
  });

  it('SANDBOX_DC + SANDBOX_DC_PUBLIC_KEY_FILE', () => {
    const config = loadConfig({ SANDBOX_DC: '127.0.0.1:9444', SANDBOX_DC_PUBLIC_KEY_FILE: 'dc.pem' }, CWD);
    expect(config.sandbox.external).toEqual({ host: '127.0.0.1', port: 9444, publicKeyFile: '/srv/app/dc.pem' });
    const v6 = loadConfig({ SANDBOX_DC: '[::1]:9444', SANDBOX_DC_PUBLIC_KEY_FILE: '/k.pem' }, CWD);
    expect(v6.sandbox.external).toMatchObject({ host: '::1', port: 9444 });
  });

  it('SESSION_ENCRYPTION_KEY as hex and as base64', () => {
    const key = Buffer.alloc(32, 7);
    expect(Buffer.from(loadConfig({ SESSION_ENCRYPTION_KEY: key.toString('hex') }, CWD).sessionEncryptionKey!)).toEqual(key);
    expect(Buffer.from(loadConfig({ SESSION_ENCRYPTION_KEY: key.toString('base64') }, CWD).sessionEncryptionKey!)).toEqual(key);
    const other = Buffer.from(Array.from({ length: 32 }, (_, i) => 250 - i));
    expect(Buffer.from(loadConfig({ SESSION_ENCRYPTION_KEY: other.toString('base64url') }, CWD).sessionEncryptionKey!)).toEqual(other);
  });

  it('HTTP_REQUEST_TIMEOUT', () => {
    expect(loadConfig({ HTTP_REQUEST_TIMEOUT: '2s' }, CWD).httpRequestTimeoutMs).toBe(2_000);
    expect(problemsOf({ HTTP_REQUEST_TIMEOUT: '0' })).toEqual(['HTTP_REQUEST_TIMEOUT="0" must be greater than 0']);
  });

  it('HTTP_MAX_CONNECTIONS and SANDBOX_DC_MAX_CONNECTIONS, fitted to the open-file limit', () => {
    expect(loadConfig({ HTTP_MAX_CONNECTIONS: '300', SANDBOX_DC_MAX_CONNECTIONS: '10' }, CWD)).toMatchObject({
      httpMaxConnections: 300,
      sandbox: { maxConnections: 10 },
    });
    // Unset: 1024, or what fits beside the in-process sandbox DC's two caps and 128 files kept for the service.
    expect(loadConfig({}, CWD, { openFileLimit: 1_048_576 }).httpMaxConnections).toBe(1024);
    expect(loadConfig({}, CWD, { openFileLimit: 1024 }).httpMaxConnections).toBe(1024 - 128 - 2 * 64);
    expect(loadConfig({ SANDBOX_DC: '127.0.0.1:9444', SANDBOX_DC_PUBLIC_KEY_FILE: 'k.pem' }, CWD, { openFileLimit: 1024 }).httpMaxConnections).toBe(1024 - 128);
    // Set: it must fit.
    expect(loadConfig({ HTTP_MAX_CONNECTIONS: '900' }, CWD).httpMaxConnections).toBe(900); // no limit known: accepted
    expect(() => loadConfig({ HTTP_MAX_CONNECTIONS: '900' }, CWD, { openFileLimit: 1024 })).toThrow(
      'HTTP_MAX_CONNECTIONS=900 and 2 × SANDBOX_DC_MAX_CONNECTIONS=64 do not fit the open-file limit of 1024 (128 files are kept for the service itself): lower the caps, or raise the limit (ulimit -n, LimitNOFILE=)',
    );
    expect(() => loadConfig({}, CWD, { openFileLimit: 200 })).toThrow(/the open-file limit of 200 is too low for the HTTP API/);
    expect(problemsOf({ HTTP_MAX_CONNECTIONS: '0', SANDBOX_DC_MAX_CONNECTIONS: 'many' })).toEqual([
      'HTTP_MAX_CONNECTIONS="0" must be at least 1',
      'SANDBOX_DC_MAX_CONNECTIONS="many" must be a whole number',
    ]);
  });

  it('LOGIN_RATE_LIMIT', () => {
    expect(loadConfig({ LOGIN_RATE_LIMIT: '100/10s' }, CWD).loginRateLimit).toEqual({ max: 100, windowMs: 10_000 });
    expect(loadConfig({ LOGIN_RATE_LIMIT: '0' }, CWD).loginRateLimit?.max).toBe(0);
  });
});

describe('loadConfig: events, webhooks, Idempotency-Keys', () => {
  it('reads every variable', () => {
    const config = loadConfig(
      {
        EVENTS_MAX_SIZE: '512MB',
        EVENTS_MAX_AGE: '30d',
        SSE_HEARTBEAT: '5s',
        SSE_SLOW_CLIENT_TIMEOUT: '2s',
        SSE_MAX_STREAMS: '4',
        WEBHOOK_TIMEOUT: '3s',
        WEBHOOK_RETRY_MAX: '1m',
        WEBHOOK_ALLOWED_HOSTS: 'hooks.internal, 10.1.0.0/16,127.0.0.1, fd00::/8',
        IDEMPOTENCY_KEY_TTL: '2h',
      },
      CWD,
    );
    expect(config.events).toEqual({
      journalMaxBytes: 512 * 1024 * 1024,
      journalMaxAgeMs: 30 * 24 * 3600 * 1000,
      sseHeartbeatMs: 5000,
      sseSlowClientTimeoutMs: 2000,
      sseMaxStreams: 4,
      webhookTimeoutMs: 3000,
      webhookRetryMaxMs: 60_000,
      webhookAllowedHosts: ['hooks.internal', '10.1.0.0/16', '127.0.0.1', 'fd00::/8'],
      idempotencyTtlMs: 2 * 3600 * 1000,
    });
    expect(loadConfig({ EVENTS_MAX_AGE: '0' }, CWD).events?.journalMaxAgeMs).toBe(0);
  });

  it('refuses bad values with one clear line each', () => {
    expect(() => loadConfig({ EVENTS_MAX_SIZE: '10KB', SSE_MAX_STREAMS: '0', WEBHOOK_ALLOWED_HOSTS: '10.0.0.0/99', WEBHOOK_TIMEOUT: '0' }, CWD)).toThrow(
      /EVENTS_MAX_SIZE="10KB" must be a size of at least 1MB[\s\S]*SSE_MAX_STREAMS="0" must be from 1[\s\S]*WEBHOOK_TIMEOUT="0" must be greater than 0[\s\S]*WEBHOOK_ALLOWED_HOSTS="10.0.0.0\/99" must list host names/,
    );
  });
});

describe('loadConfig: a cluster (STORE=postgres)', () => {
  const cluster = { STORE: 'postgres', DATABASE_URL: 'postgres://tgs:secret@db:5432/tgs', API_TOKEN: 'a-token-of-sixteen+', SANDBOX_DC: '127.0.0.1:9444', SANDBOX_DC_PUBLIC_KEY_FILE: 'key.pem' };

  it('reads STORE, DATABASE_URL, INSTANCE_ID, INSTANCE_URL and LEASE_TTL', () => {
    const config = loadConfig({ ...cluster, INSTANCE_ID: 'node-1', INSTANCE_URL: 'http://10.0.0.5:8080/', LEASE_TTL: '10s' }, CWD);
    expect(config.store).toEqual({ kind: 'postgres', databaseUrl: cluster.DATABASE_URL });
    expect(config.instanceId).toBe('node-1');
    expect(config.instanceUrl).toBe('http://10.0.0.5:8080');
    expect(config.leaseTtlMs).toBe(10_000);
  });

  it('needs DATABASE_URL, one API_TOKEN for every instance and a shared sandbox DC; never echoes the URL', () => {
    const problems = (env: Record<string, string>): string => {
      try {
        loadConfig(env, CWD);
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    };
    expect(problems({ STORE: 'postgres' })).toContain('DATABASE_URL is missing');
    expect(problems({ STORE: 'postgres' })).toContain('API_TOKEN is missing');
    expect(problems({ STORE: 'postgres', DATABASE_URL: cluster.DATABASE_URL, API_TOKEN: cluster.API_TOKEN })).toContain('SANDBOX_DC is missing');
    const bad = problems({ ...cluster, DATABASE_URL: 'mysql://root:hunter22@db/x' });
    expect(bad).toContain('DATABASE_URL must be a URL like postgres://');
    expect(bad).not.toContain('hunter22');
    expect(problems({ ...cluster, STORE: 'redis' })).toContain('STORE="redis" must be files or postgres');
    expect(problems({ ...cluster, LEASE_TTL: '3s' })).toContain('LEASE_TTL must be at least 4s');
    expect(problems({ ...cluster, INSTANCE_ID: 'has space' })).toContain('INSTANCE_ID');
    expect(problems({ ...cluster, INSTANCE_URL: 'ftp://x' })).toContain('INSTANCE_URL');
  });
});

describe('loadConfig errors', () => {
  it('reports every problem at once, one line each, naming the variable', () => {
    const problems = problemsOf({
      TELEGRAM_API_ID: 'abc',
      TELEGRAM_TEST_DC: 'maybe',
      HOST: 'a b',
      PORT: '99999',
      API_TOKEN: 'short',
      SESSION_MAX_IDLE: '7 weeks',
      CLIENT_READY_TIMEOUT: '0',
      RETRY_MAX_DELAY: '-5s',
      LOG_LEVEL: 'loud',
      SANDBOX_DC_PORT: '65535',
      SANDBOX_DC: 'nohostport',
      SESSION_ENCRYPTION_KEY: 'abcd',
      LOGIN_RATE_LIMIT: 'lots',
    });
    const names = [
      'TELEGRAM_API_ID=',
      'TELEGRAM_API_HASH is missing',
      'TELEGRAM_TEST_DC=',
      'HOST=',
      'PORT=',
      'API_TOKEN ',
      'SESSION_MAX_IDLE=',
      'CLIENT_READY_TIMEOUT=',
      'RETRY_MAX_DELAY=',
      'LOG_LEVEL=',
      'SANDBOX_DC_PORT=',
      'SANDBOX_DC=',
      'SANDBOX_DC_PUBLIC_KEY_FILE is missing',
      'SANDBOX_DC is only used in sandbox mode',
      'SESSION_ENCRYPTION_KEY ',
      'LOGIN_RATE_LIMIT=',
    ];
    for (const name of names) expect(problems.some((p) => p.startsWith(name)), `${name} in ${problems.join('\n')}`).toBe(true);
    expect(problems).toHaveLength(names.length);
    for (const p of problems) expect(p).not.toContain('\n');
  });

  it('the error message lists each problem on its own line', () => {
    try {
      loadConfig({ PORT: 'x', LOG_LEVEL: 'y' }, CWD);
      throw new Error('no error');
    } catch (err) {
      expect((err as Error).message).toBe(
        'Invalid configuration:\n' +
          '  - PORT="x" must be a whole number\n' +
          '  - LOG_LEVEL="y" must be one of fatal, error, warn, info, debug, trace',
      );
    }
  });

  it('API id without hash and hash without id', () => {
    expect(problemsOf({ TELEGRAM_API_ID: '1' })).toEqual([
      'TELEGRAM_API_HASH is missing: set both TELEGRAM_API_ID and TELEGRAM_API_HASH, or neither for sandbox mode',
    ]);
    expect(problemsOf({ TELEGRAM_API_HASH: API_HASH })).toEqual([
      'TELEGRAM_API_ID is missing: set both TELEGRAM_API_ID and TELEGRAM_API_HASH, or neither for sandbox mode',
    ]);
  });

  it('TELEGRAM_TEST_DC=1 needs API credentials', () => {
    expect(problemsOf({ TELEGRAM_TEST_DC: '1' })[0]).toMatch(/^TELEGRAM_TEST_DC=1 needs TELEGRAM_API_ID/);
  });

  it('SANDBOX_DC_PUBLIC_KEY_FILE without SANDBOX_DC', () => {
    expect(problemsOf({ SANDBOX_DC_PUBLIC_KEY_FILE: 'k.pem' })[0]).toMatch(/^SANDBOX_DC is missing/);
  });

  it('never echoes a secret value', () => {
    const secrets = { TELEGRAM_API_ID: '5', TELEGRAM_API_HASH: 'not-hex-secret-value', API_TOKEN: 'tiny', SESSION_ENCRYPTION_KEY: 'zz-secret-zz' };
    const text = problemsOf(secrets).join('\n');
    expect(text).toContain('TELEGRAM_API_HASH must be 32 hexadecimal characters');
    expect(text).toContain('SESSION_ENCRYPTION_KEY must be 32 bytes');
    for (const value of ['not-hex-secret-value', 'tiny', 'zz-secret-zz']) expect(text).not.toContain(value);
  });

  it('a 31- or 33-byte encryption key is refused', () => {
    expect(problemsOf({ SESSION_ENCRYPTION_KEY: Buffer.alloc(31).toString('hex') })).toHaveLength(1);
    expect(problemsOf({ SESSION_ENCRYPTION_KEY: Buffer.alloc(33).toString('base64') })).toHaveLength(1);
  });

  it('timer durations above setTimeout\'s limit are refused', () => {
    expect(problemsOf({ CLIENT_READY_TIMEOUT: '30d' })[0]).toMatch(/^CLIENT_READY_TIMEOUT="30d" must be at most/);
  });
});

describe('durations', () => {
  it('parses and formats', () => {
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('7D')).toBe(604_800_000);
    expect(parseDuration('1.5h')).toBeUndefined();
    expect(parseDuration('h')).toBeUndefined();
    expect(parseDuration('99999999999999999999d')).toBeUndefined();
    expect(formatDuration(604_800_000)).toBe('7d');
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(1500)).toBe('1500ms');
  });
});

describe('.env', () => {
  it('is read from the cwd, and the real environment wins', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, '.env'), 'PORT=9000\nHOST=0.0.0.0\n# comment\nLOG_LEVEL="debug"\n');
    const fromFile = readDotEnv(dir);
    expect(fromFile).toMatchObject({ PORT: '9000', HOST: '0.0.0.0', LOG_LEVEL: 'debug' });
    const config = loadConfig(mergeEnv(fromFile, { PORT: '7000' }), dir);
    expect(config).toMatchObject({ port: 7000, host: '0.0.0.0', logLevel: 'debug' });
  });

  it('is optional', () => {
    expect(readDotEnv(tempDir())).toEqual({});
  });
});

describe('resolveConfig (file side effects)', () => {
  it('generates the API token once (0600, base64url of 32 bytes) and reads it back later', () => {
    const dataDir = tempDir();
    const first = resolveConfig(loadConfig({ DATA_DIR: dataDir }, '/'));
    expect(first.config.apiTokenSource).toBe('generated');
    expect(first.apiTokenFile).toBe(path.join(dataDir, 'api_token'));
    expect(first.config.apiToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(fs.statSync(first.apiTokenFile!).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dataDir)).toEqual(['api_token']); // no temp file left behind

    const second = resolveConfig(loadConfig({ DATA_DIR: dataDir }, '/'));
    expect(second.config).toMatchObject({ apiToken: first.config.apiToken, apiTokenSource: 'file' });
  });

  it('API_TOKEN from the environment wins and writes nothing', () => {
    const dataDir = tempDir();
    const resolved = resolveConfig(loadConfig({ DATA_DIR: dataDir, API_TOKEN: 'env-token-0123456789' }, '/'));
    expect(resolved.config).toMatchObject({ apiToken: 'env-token-0123456789', apiTokenSource: 'env' });
    expect(resolved.apiTokenFile).toBeUndefined();
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('tightens a token file readable by others, with a warning that does not contain the token', () => {
    const dataDir = tempDir();
    const file = path.join(dataDir, 'api_token');
    fs.writeFileSync(file, 'existing-token-0123456789\n', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    const resolved = resolveConfig(loadConfig({ DATA_DIR: dataDir }, '/'));
    expect(resolved.config.apiToken).toBe('existing-token-0123456789');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(resolved.warnings).toHaveLength(1);
    expect(resolved.warnings[0]).not.toContain('existing-token');
  });

  it('replaces an empty token file', () => {
    const dataDir = tempDir();
    fs.writeFileSync(path.join(dataDir, 'api_token'), '', { mode: 0o600 });
    const resolved = resolveConfig(loadConfig({ DATA_DIR: dataDir }, '/'));
    expect(resolved.config.apiTokenSource).toBe('generated');
    expect(fs.readFileSync(path.join(dataDir, 'api_token'), 'utf8').trim()).toBe(resolved.config.apiToken);
  });

  it('reads the external sandbox DC public key, and reports an unreadable one', () => {
    const dataDir = tempDir();
    const pem = '-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEA\n-----END RSA PUBLIC KEY-----\n';
    fs.writeFileSync(path.join(dataDir, 'dc.pem'), pem);
    const env = { DATA_DIR: dataDir, SANDBOX_DC: '127.0.0.1:9444', SANDBOX_DC_PUBLIC_KEY_FILE: 'dc.pem' };
    expect(resolveConfig(loadConfig(env, dataDir)).config.sandbox).toEqual({
      port: 9443,
      maxConnections: 64,
      external: { host: '127.0.0.1', port: 9444, publicKeyPem: pem },
    });
    expect(() => resolveConfig(loadConfig({ ...env, SANDBOX_DC_PUBLIC_KEY_FILE: 'missing.pem' }, dataDir))).toThrow(
      /SANDBOX_DC_PUBLIC_KEY_FILE=.*missing\.pem cannot be read/,
    );
  });
});
