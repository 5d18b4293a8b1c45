/**
 * Test harness for one account in this process (the Account module, not the service process): a real
 * sandbox DC over TCP (startTestSandbox), a real session store in a temp directory, a pino logger whose
 * lines the test can read. Nothing mocked. The service process: test/helpers/service-process.ts.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createAccount, type AccountOptions } from '../../src/account/account.js';
import type { Account } from '../../src/account/types.js';
import type { Config } from '../../src/config/types.js';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { createSessionStore } from '../../src/store/files/account-files.js';
import type { SessionStore } from '../../src/store/types.js';

export const TEST_PHONE = '+9996621234';
export const TEST_CODE = '22222';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}

/**
 * One sandbox DC for the calling test file (started in beforeAll, disposed in afterAll); after each test
 * its injected errors are cleared and the test's cleanups run, the last one pushed first.
 */
export function dcPerFile(): { readonly dc: TestSandbox; cleanup(fn: () => Promise<void>): void } {
  let dc: TestSandbox | undefined;
  const cleanups: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    dc = await startTestSandbox();
  });
  afterAll(async () => {
    await dc?.dispose();
  });
  afterEach(async () => {
    dc?.controls.clearInjectedErrors();
    while (cleanups.length) await cleanups.pop()!();
  });
  return {
    get dc() {
      if (!dc) throw new Error('the sandbox DC starts in beforeAll');
      return dc;
    },
    cleanup: (fn) => void cleanups.push(fn),
  };
}

export function testConfig(dataDir: string, overrides: Partial<Config> = {}): Config {
  return {
    environment: 'sandbox',
    telegram: { apiId: 2040, apiHash: 'b18441a1ff607e10a989891a5462e627' },
    sandbox: { port: 0 },
    dataDir,
    host: '127.0.0.1',
    port: 0,
    apiToken: 'test-token-not-used-here',
    apiTokenSource: 'env',
    sessionMaxIdleMs: 7 * 24 * 3600 * 1000,
    clientReadyTimeoutMs: 10_000,
    retryMaxDelayMs: 400,
    logLevel: 'debug',
    logFile: join(dataDir, 'telegram_service.log'),
    ...overrides,
  };
}

export interface ServiceUnderTest {
  service: Account;
  store: SessionStore;
  lines: LogLine[];
  /** Every log line as written (JSON text), to search for secrets. */
  raw: string[];
  messages(): string[];
  stop(): Promise<void>;
}

/** An account over `dataDir` talking to `dc`; started (start() resolved) when returned. */
export async function startAccount(
  dataDir: string,
  dc: TestSandbox,
  overrides: Partial<Config> = {},
  options: Partial<Pick<AccountOptions, 'observer' | 'connections' | 'probeIntervalMs'>> = {},
): Promise<ServiceUnderTest> {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(chunk: string) {
        raw.push(chunk);
        lines.push(JSON.parse(chunk) as LogLine);
      },
    },
  );
  const config = testConfig(dataDir, overrides);
  const store = createSessionStore({ dataDir, environment: 'sandbox', log: logger });
  const service = createAccount({ id: 'default', config, store, logger, sandbox: { dcs: dc.dcs, publicKeyPem: dc.publicKeyPem }, ...options });
  await service.start();
  let stopped = false;
  return {
    service,
    store,
    lines,
    raw,
    messages: () => lines.map((l) => l.msg),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await service.stop();
      await store.close();
    },
  };
}

export async function waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function filesOf(dataDir: string): { session: boolean; authState: boolean } {
  return { session: existsSync(join(dataDir, 'session.json')), authState: existsSync(join(dataDir, 'auth_state.json')) };
}

/** The DC's auth keys logged in as `phone`. */
export function keysOf(dc: TestSandbox, phone: string) {
  return dc.controls.authKeysOfUser(phone);
}

/** Logs in the test phone by code and returns the running service. */
export async function loggedInService(
  dataDir: string,
  dc: TestSandbox,
  overrides: Partial<Config> = {},
  options: Parameters<typeof startAccount>[3] = {},
  phone = TEST_PHONE,
): Promise<ServiceUnderTest> {
  const sut = await startAccount(dataDir, dc, overrides, options);
  await sut.service.sendCode(phone);
  await sut.service.verifyCode(phone === TEST_PHONE ? TEST_CODE : phone.charAt(6).repeat(5));
  return sut;
}

/** The index of each message in `messages`, in order; -1 where missing. */
export function orderOf(messages: string[], wanted: string[]): number[] {
  return wanted.map((w) => messages.indexOf(w));
}
