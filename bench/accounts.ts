/**
 * Many accounts in one service: 1, 100 and 1,000 logged-in accounts (created and logged in through the
 * API once, then copied into a data directory per size). For each size: start → every account answers
 * `authenticated`, start → every account validated, then (after SERVICE_SETTLE_MS) idle for one health-probe
 * round (default HEALTH_PROBE_INTERVAL): RSS and CPU. Beside them, bare mtcute clients logged in the same way (1 and 100
 * in one process each), measured in the same run.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { RawMtprotoClient } from '@telegram-service/sandbox-dc/testing';
import { PROBE_SPACING_MS } from '../src/accounts/registry.js';
import { parseDuration } from '../src/config/duration.js';
import { DEFAULTS } from '../src/config/load-config.js';
import { createFileAccountsStore } from '../src/store/files/accounts-dir.js';
import { defaultDcsFor } from '../src/telegram/client-factory.js';
import { cpuMs, dc2Of, rssMiB, sleep, spawnService, startBareMtcute, waitUntil, type DcAddress, type ServiceProcess } from './processes.js';
import { fmt, pool, row, section } from './report.js';

const SIZES = [1, 100, 1000] as const;
const FIXTURE_SIZE = 1000;
const LOGIN_CONCURRENCY = 32;
/** HEALTH_PROBE_INTERVAL's default (the service's own, not a copy). */
const PROBE_INTERVAL_MS = parseDuration(DEFAULTS.healthProbeInterval)!;
/** Bare mtcute clients idle this long. */
const BARE_IDLE_MS = 30_000;
const SETTLE_MS = 3_000;
/**
 * The service's idle window starts this long after every account validated: the first half minute after a
 * start still pays for the start — V8's memory reducer runs its mark-compacts (three in a row, ~1 s of CPU
 * across its threads at 1,000 accounts) once the allocation rate has dropped. That settling is reported on
 * its own row, not hidden in or out of the idle figure.
 */
const SERVICE_SETTLE_MS = 40_000;
const BARE_CLIENTS = 100;

const accountId = (i: number) => `a${String(i).padStart(4, '0')}`;
const phoneOf = (i: number) => `+999662${String(i).padStart(4, '0')}`;

interface Listed {
  id: string;
  state: string;
  session: { validation: string | null };
}

async function listAll(svc: ServiceProcess): Promise<Listed[]> {
  const all: Listed[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${cursor}` : '';
    const page = await svc.request<{ accounts: Listed[]; nextCursor: string | null }>('GET', `/api/accounts?limit=1000${query}`);
    if (page.status !== 200) throw new Error(`GET /api/accounts: ${page.status}`);
    all.push(...page.body.accounts);
    cursor = page.body.nextCursor;
  } while (cursor);
  return all;
}

/**
 * 1,000 logged-in accounts, made the quick way (a login through the service costs ~0.1 s of mtcute's key
 * exchange in JavaScript each): a raw MTProto client makes each key with the sandbox DC and logs it in
 * (test numbers +999662XXXX, code 22222), and the service's own store writes the account's files, as the
 * service writes them after a login.
 */
async function createFixture(dataDir: string, dc: DcAddress): Promise<number> {
  const t0 = performance.now();
  const dc2 = dc2Of(dc);
  const log = pino({ level: 'silent' });
  const store = createFileAccountsStore({ dataDir, environment: 'sandbox', log });
  await store.open();
  const primaryDcs = defaultDcsFor({ environment: 'sandbox', telegram: { apiId: 0, apiHash: '' }, sandbox: { port: 0, external: { ...dc2, publicKeyPem: dc.publicKeyPem } } });
  const result = await pool(FIXTURE_SIZE, LOGIN_CONCURRENCY, async (i) => {
    const client = await RawMtprotoClient.connect(dc2.port, 'intermediate', dc2.host);
    try {
      const { authKey } = await client.exchangeKey(dc.publicKeyPem, { dc: 2 });
      const phone = phoneOf(i);
      const sent = await client.callWithLayer({ _: 'auth.sendCode', phoneNumber: phone, apiId: 1, apiHash: 'bench', settings: { _: 'codeSettings' } });
      const auth = await client.call({ _: 'auth.signIn', phoneNumber: phone, phoneCodeHash: sent.phoneCodeHash, phoneCode: '22222' });
      if (auth._ !== 'auth.authorization') throw new Error(`sign-in of ${phone}: ${JSON.stringify(auth)}`);
      const id = accountId(i);
      await store.create(id);
      const session = store.sessionStore(id, log);
      await session.load();
      await (await session.createStorage({ primaryDcs })).authKeys.set(2, authKey);
      await session.writeAuthState({ user_auth: true, user_id: auth.user.id, phone, saved_at: new Date().toISOString(), version: '1.0' });
      await session.close();
    } finally {
      client.close();
    }
  });
  if (result.errors.length > 0) throw new Error(`fixture: ${result.errors.length} logins failed: ${result.errors[0]}`);
  return performance.now() - t0;
}

interface SizeFigures {
  size: number;
  authenticatedMs: number;
  validatedMs: number;
  rss: number;
  idleCpuPercent: number;
  /** CPU while settling (validated → SERVICE_SETTLE_MS later), % of a core. */
  settleCpuPercent: number;
}

async function measureSize(size: number, fixtureDir: string, root: string, dc: DcAddress, during?: () => Promise<void>): Promise<SizeFigures> {
  const dataDir = path.join(root, `accounts-${size}`);
  await fsp.mkdir(path.join(dataDir, 'accounts'), { recursive: true, mode: 0o700 });
  for (let i = 0; i < size; i++) {
    await fsp.cp(path.join(fixtureDir, 'accounts', accountId(i)), path.join(dataDir, 'accounts', accountId(i)), { recursive: true });
  }
  const svc = await spawnService({ dataDir, dc });
  try {
    // Listing every account is work for the service too: polled often only while it is cheap.
    const listEveryMs = size >= 1000 ? 250 : 25;
    const everyAccount = async (pred: (a: Listed) => boolean) => {
      const all = await listAll(svc);
      return all.length === size && all.every(pred);
    };
    // The last account answering is the cheap signal; the whole list confirms it.
    const last = `/api/accounts/${accountId(size - 1)}/status`;
    await waitUntil(async () => (await svc.request('GET', last)).body?.state === 'authenticated', 60_000, `${size} accounts authenticated`);
    while (!(await everyAccount((a) => a.state === 'authenticated'))) await sleep(listEveryMs);
    const authenticatedMs = performance.now() - svc.spawnedAt;
    for (;;) {
      if (await everyAccount((a) => a.session.validation === 'valid').catch(() => false)) break;
      if (performance.now() - svc.spawnedAt > 180_000) throw new Error(`${size} accounts not validated within 180 s`);
      await sleep(listEveryMs);
    }
    const validatedMs = performance.now() - svc.spawnedAt;
    const settleCpu0 = cpuMs(svc.pid);
    await sleep(SERVICE_SETTLE_MS);
    const settleCpuPercent = ((cpuMs(svc.pid) - settleCpu0) / SERVICE_SETTLE_MS) * 100;
    // Idle for one probe round: every account whose connection stays silent that long is probed in the window
    // (the registry stretches the interval to accounts × PROBE_SPACING_MS; ±10 % jitter; mtcute's pongs
    // about once a minute count as an answer, see src/telegram/pong-watch.ts).
    const idleMs = Math.max(PROBE_INTERVAL_MS, size * PROBE_SPACING_MS) * 1.1;
    const cpu0 = cpuMs(svc.pid);
    await Promise.all([sleep(idleMs), during?.()]);
    const idleCpuPercent = ((cpuMs(svc.pid) - cpu0) / idleMs) * 100;
    return { size, authenticatedMs, validatedMs, rss: rssMiB(svc.pid), idleCpuPercent, settleCpuPercent };
  } finally {
    await svc.stop();
    await fsp.rm(dataDir, { recursive: true, force: true });
  }
}

/** Bare mtcute clients logged in in one process: RSS, and CPU over an idle window. */
async function bareClients(dc: DcAddress, count: number, first: number, idleMs: number) {
  const bare = startBareMtcute('many', dc, [String(count), String(first)]);
  try {
    await bare.next(300_000);
    await sleep(SETTLE_MS);
    const cpu0 = cpuMs(bare.pid);
    await sleep(idleMs);
    return { rss: rssMiB(bare.pid), cpuMsPerSecond: (cpuMs(bare.pid) - cpu0) / (idleMs / 1000) };
  } finally {
    await bare.stop();
  }
}

export async function benchAccounts(dc: DcAddress): Promise<void> {
  section(`Many accounts (logged in, idle; default VALIDATION_CONCURRENCY and HEALTH_PROBE_INTERVAL)`);
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'bench-accounts-'));
  try {
    const fixtureDir = path.join(root, 'fixture');
    const fixtureMs = await createFixture(fixtureDir, dc);
    console.log(`  (fixture: ${FIXTURE_SIZE} accounts logged in at the DC and written by the store in ${fmt(fixtureMs / 1000)} s)`);

    const bareOne = await bareClients(dc, 1, 9100, 5_000);
    const figures: SizeFigures[] = [];
    let bareMany: Awaited<ReturnType<typeof bareClients>> | undefined;
    for (const size of SIZES) {
      // The bare clients idle beside the largest size (their own process; CPU and RSS are per process).
      const during = size === FIXTURE_SIZE ? async () => void (bareMany = await bareClients(dc, BARE_CLIENTS, 9200, BARE_IDLE_MS)) : undefined;
      figures.push(await measureSize(size, fixtureDir, root, dc, during));
    }
    const bareRssPerClient = (bareMany!.rss - bareOne.rss) / (BARE_CLIENTS - 1);
    const bareCpuPerClient = (bareMany!.cpuMsPerSecond * 1000) / BARE_CLIENTS; // µs per client-second
    const one = figures[0]!;
    for (const f of figures) {
      const perAccountRss = f.size > 1 ? (f.rss - one.rss) / (f.size - 1) : NaN;
      const perAccountCpu = (f.idleCpuPercent * 10_000) / f.size; // µs per account-second
      row({
        metric: `${f.size} account${f.size > 1 ? 's' : ''}: start → all authenticated (ms)`,
        value: fmt(f.authenticatedMs),
        note: `all validated ${fmt(f.validatedMs)} ms; the ${SERVICE_SETTLE_MS / 1000} s after that ${fmt(f.settleCpuPercent, 2)} % of a core (start-up's aftermath: V8's memory reducer)`,
      });
      row({
        metric: `${f.size} account${f.size > 1 ? 's' : ''}: RSS idle (MiB)`,
        value: fmt(f.rss),
        ...(f.size > 1 ? { baseline: `${fmt(bareRssPerClient, 2)} MiB/client`, ratio: `${fmt(perAccountRss, 2)} MiB/account` } : {}),
        note: `idle CPU ${fmt(f.idleCpuPercent, 2)} % of a core = ${fmt(perAccountCpu)} µs per account-second (bare mtcute ${fmt(bareCpuPerClient)} µs per client-second)`,
      });
    }
    console.log(
      `  (bare mtcute: 1 client ${fmt(bareOne.rss)} MiB, ${BARE_CLIENTS} clients ${fmt(bareMany!.rss)} MiB in one process, ` +
        `${fmt(bareMany!.cpuMsPerSecond, 2)} ms CPU/s idle)`,
    );
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
}
