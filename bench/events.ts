/**
 * Events figures (issue 12), each beside a bare baseline measured in the same run:
 * - latency from a message sent at the DC to the service's SSE client and to its webhook receiver (p50/p99),
 *   beside a bare mtcute client of the same user getting the same push (onNewMessage) in a process of its own,
 *   as the service is (bare-mtcute.mjs listen; every arrival on the monotonic clock all processes share); each
 *   way of delivery measured alone, as a user runs one;
 * - the floor under those, measured the same way with samples alternated with the service's: a relay — a bare
 *   mtcute client (bare-mtcute.mjs relay) that does only what any design that journals before it delivers must
 *   do, an O_DSYNC append and then the same hop to a consumer process of the same kind — beside a bare listener
 *   of its own user; and one event-sized line appended durably on the same filesystem, between the samples;
 * - events per second through journal → SSE for a burst, beside the onNewMessage rate of a bare client in
 *   this process, beside the DC;
 * - reconnects per minute of idle logged-in accounts (updates on) at 1, 100 and 1,000 accounts in one
 *   service process, beside bare mtcute 0.30 clients with default settings at 1 and 100.
 * The DC lives in this process; the service, the baseline's bare client, the SSE client and the webhook
 * receiver each in its own.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TelegramClient } from '@mtcute/node';
import { loginSandboxClient, sandboxClient, startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { rssMiB, sleep, spawnService, startBareMtcute, startEventConsumer, waitUntil, type ServiceProcess } from './processes.js';
import { fmt, percentile, pool, ratio, row, section } from './report.js';

const LATENCY_SAMPLES = 1000;
const BURST = 5_000;
const RECONNECT_WINDOW_MS = 30_000;
/**
 * Where each run's per-sample latencies are written (one JSON file per way of delivery) when set: what
 * `bench/pool-latency.ts` pools over many runs.
 */
const DUMP_DIR = process.env.BENCH_LATENCY_DUMP;
const RUN_STARTED = new Date().toISOString().replace(/[:.]/g, '-');
/** About one journal line of a message.new event. */
const RAW_LINE = Buffer.from(`${JSON.stringify({ id: 1, at: new Date(0).toISOString(), type: 'message.new', key: 'n:700000002:1', data: { message: { id: 1, peer: 700000002, from: 700000002, date: new Date(0).toISOString(), text: 'latency 1', replyTo: null, out: false } } })}\n`);

/** The service on its own data directory, talking to the in-process DC; resolves once its API answers. */
async function startService(opts: { dataDir: string; dc: TestSandbox; env: Record<string, string> }): Promise<ServiceProcess> {
  const svc = await spawnService({ dataDir: opts.dataDir, dc: opts.dc, env: opts.env });
  await waitUntil(async () => (await svc.request('GET', '/api/telegram/status').catch(() => ({ status: 0 }))).status === 200, 60_000, 'the service to answer');
  return svc;
}

/** Creates the account and logs it in with a test number (code: the DC digit five times), retrying a step the busy DC did not answer. */
async function login(svc: ServiceProcess, id: string, phone: string): Promise<void> {
  const created = await svc.request('POST', '/api/accounts', { id });
  if (created.status !== 201) throw new Error(`create ${id}: ${created.status} ${JSON.stringify(created.body)}`);
  for (let attempt = 1; ; attempt++) {
    const sent = await svc.request('POST', `/api/accounts/${id}/auth/send-code`, { phone });
    if (sent.status === 200 || (sent.status === 409 && sent.body?.error?.code === 'ALREADY_AUTHENTICATED')) break;
    if (attempt === 5) throw new Error(`send-code ${id}: ${sent.status} ${JSON.stringify(sent.body)}`);
  }
  for (let attempt = 1; ; attempt++) {
    const verified = await svc.request('POST', `/api/accounts/${id}/auth/verify-code`, { code: phone.charAt(6).repeat(5) });
    if (verified.body?.state === 'authenticated') return;
    if (attempt === 5) throw new Error(`login ${id}: ${verified.status} ${JSON.stringify(verified.body)}`);
  }
}

function stats(samples: number[]): { p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/** The monotonic clock every process on the machine shares (ms): arrivals in other processes are timed on it. */
function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * When each text arrived where, on the shared monotonic clock: recorded by callbacks in the receiving
 * processes (and here), waited for without polling, so this process (the DC's) wakes only when told.
 */
class Arrivals<Kind extends string> {
  private readonly seen = new Map<Kind, Map<string, number>>();
  private waiters = new Set<() => void>();

  of(kind: Kind): Map<string, number> {
    let map = this.seen.get(kind);
    if (!map) this.seen.set(kind, (map = new Map()));
    return map;
  }

  record(kind: Kind, text: string, at: number): void {
    this.of(kind).set(text, at);
    for (const wake of this.waiters) wake();
  }

  /** Records every {"text","at"} line a process prints, as `kind`, until the process ends. */
  collect(kind: Kind, proc: { next: (timeoutMs?: number) => Promise<{ text?: unknown; at?: unknown }> }): void {
    void (async () => {
      for (;;) {
        const line = await proc.next(3_600_000);
        if (typeof line.text === 'string' && typeof line.at === 'number') this.record(kind, line.text, line.at);
      }
    })().catch(() => undefined); // ends with the process
  }

  /** Resolves true once `check()` holds after an arrival, false after `timeoutMs`. */
  until(check: () => boolean, timeoutMs: number): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (result: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(result);
      };
      const wake = (): void => {
        if (check()) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(wake);
    });
  }
}

type Delivery = 'sse' | 'webhook';

async function latencyAndThroughput(dc: TestSandbox, root: string, where: string, receiverPhone: string, floorPhone: string): Promise<void> {
  // A user the service logs in and the same user on a bare mtcute client (another device) in a process of its
  // own, as the service is: the baseline (one in this process serves the burst). And a sender. The SSE client and the webhook receiver are processes
  // of their own too. Each way of delivery is measured alone, as a user runs one: with both receivers
  // connected, the second to be woken waits for a core behind the first on a 2-core machine.
  const senderPhone = '+9996627000';
  if (!dc.controls.getUser(senderPhone)) dc.controls.createUser({ phone: senderPhone, firstName: 'Sender' });
  const svc = await startService({ dataDir: path.join(root, 'latency'), dc, env: { LOGIN_RATE_LIMIT: '0', WEBHOOK_RETRY_MAX: '1s' } });
  const arrivals = new Arrivals<'bareProcess' | 'bare' | Delivery | 'floorBare' | 'floor'>();
  const consumers: Array<{ stop: () => Promise<void> }> = [];
  let bare: TelegramClient | undefined;
  try {
    await login(svc, 'bench', receiverPhone);
    const bareProcess = startBareMtcute('listen', dc, [receiverPhone]);
    consumers.push(bareProcess);
    if ((await bareProcess.next(60_000)).event !== 'ready') throw new Error('the bare mtcute process did not log in');
    arrivals.collect('bareProcess', bareProcess);

    // The floor: another user, pushed to a relay — a bare mtcute client that does only what any design that
    // journals before it delivers must do (an O_DSYNC append, then one hop to a consumer process of the same
    // kind) — and to a bare listener of its own. The relay logs in first, as the service did, so the DC writes
    // its push first. Its samples alternate with the service's: both see the machine of the same seconds.
    const relay = startBareMtcute('relay', dc, [floorPhone, path.join(root, 'floor-relay.jsonl')]);
    consumers.push(relay);
    const { url: relaySseUrl } = (await relay.next(60_000)) as { url: string };
    if ((await relay.next(60_000)).event !== 'ready') throw new Error('the floor relay did not log in');
    const floorBare = startBareMtcute('listen', dc, [floorPhone]);
    consumers.push(floorBare);
    if ((await floorBare.next(60_000)).event !== 'ready') throw new Error('the floor bare mtcute process did not log in');
    arrivals.collect('floorBare', floorBare);
    /** Where a consumer's events come from: the service, or the floor's relay. */
    interface Source {
      sse: { url: string; token: string; connected?: () => Promise<void> };
      setWebhook(webhook: { url: string; secret: string } | null): Promise<void>;
    }
    const service: Source = {
      sse: { url: `${svc.baseUrl}/api/accounts/bench/events`, token: svc.token },
      setWebhook: async (webhook) => {
        await (webhook ? svc.request('PUT', '/api/accounts/bench/webhook', webhook) : svc.request('DELETE', '/api/accounts/bench/webhook'));
      },
    };
    const floorSource: Source = {
      sse: {
        url: relaySseUrl,
        token: 'unused',
        connected: async () => {
          if ((await relay.next(60_000)).event !== 'connected') throw new Error('the floor SSE client did not connect');
        },
      },
      setWebhook: async (webhook) => void relay.proc.stdin!.write(`${JSON.stringify({ webhook })}\n`),
    };
    /** Connects a receiver of `delivery` to `source`, its arrivals recorded as `kind`; resolves to what disconnects it. */
    const connect = async (kind: Delivery | 'floor', delivery: Delivery, source: Source): Promise<() => Promise<void>> => {
      arrivals.of(kind).clear();
      if (delivery === 'sse') {
        const sse = startEventConsumer(['sse', source.sse.url, source.sse.token]);
        consumers.push(sse);
        await source.sse.connected?.();
        arrivals.collect(kind, sse);
        return () => sse.stop();
      }
      const secret = randomBytes(16).toString('hex');
      const receiver = startEventConsumer(['webhook', secret]);
      consumers.push(receiver);
      const { url } = (await receiver.next(60_000)) as { url: string };
      arrivals.collect(kind, receiver);
      await source.setWebhook({ url, secret });
      return async () => {
        await source.setWebhook(null);
        await receiver.stop();
      };
    };

    // What appending one event line durably costs on this filesystem, measured between the samples —
    // as the journal appends while the loop is not busy (O_DSYNC, written on the loop's thread: the write returns
    // once the line is on stable storage; through the thread pool this process's wake-ups would be measured too).
    const { O_WRONLY, O_CREAT, O_APPEND, O_DSYNC } = fs.constants;
    const raw = fs.openSync(path.join(root, 'raw-append.jsonl'), O_WRONLY | O_CREAT | O_APPEND | O_DSYNC);
    const rawAppend: number[] = [];
    let disconnectSse: (() => Promise<void>) | undefined;
    // The webhook first: the SSE client stays connected for the burst below.
    for (const delivery of ['webhook', 'sse'] as const) {
      const disconnect = await connect(delivery, delivery, service);
      const disconnectFloor = await connect('floor', delivery, floorSource);
      /** Sends `text` to `phone`; resolves to each kind's latency (ms), undefined where it did not arrive in 5 s. */
      const sample = async <K extends 'bareProcess' | 'floorBare' | Delivery | 'floor'>(phone: string, text: string, kinds: readonly K[]): Promise<Array<number | undefined>> => {
        const sent = monotonicMs();
        dc.controls.deliverMessage(senderPhone, phone, text);
        await arrivals.until(() => kinds.every((kind) => arrivals.of(kind).has(text)), 5_000);
        return kinds.map((kind) => {
          const at = arrivals.of(kind).get(text);
          return at === undefined ? undefined : at - sent;
        });
      };
      // Warm-up: every loop running, every path connected.
      for (const [phone, kinds] of [[receiverPhone, ['bareProcess', delivery]], [floorPhone, ['floorBare', 'floor']]] as const) {
        const arrived = await sample(phone, `warm-up ${delivery} ${phone}`, kinds);
        if (arrived.includes(undefined)) throw new Error(`the warm-up message did not reach every client (${delivery}, ${phone})`);
      }
      const latency = { bareProcess: [] as number[], delivered: [] as number[], floorBare: [] as number[], floor: [] as number[] };
      let missing = 0;
      const keep = (arrived: Array<number | undefined>, into: number[][]): void => {
        if (arrived.includes(undefined)) missing++;
        arrived.forEach((ms, i) => ms !== undefined && into[i]!.push(ms));
      };
      for (let i = 0; i < LATENCY_SAMPLES; i++) {
        keep(await sample(receiverPhone, `latency ${delivery} ${i}`, ['bareProcess', delivery]), [latency.bareProcess, latency.delivered]);
        const before = monotonicMs();
        fs.writeSync(raw, RAW_LINE);
        rawAppend.push(monotonicMs() - before);
        await sleep(10);
        keep(await sample(floorPhone, `floor ${delivery} ${i}`, ['floorBare', 'floor']), [latency.floorBare, latency.floor]);
        await sleep(10);
      }
      if (DUMP_DIR) {
        fs.mkdirSync(DUMP_DIR, { recursive: true });
        const way = `${delivery}${where ? '-tmpfs' : ''}`;
        fs.writeFileSync(path.join(DUMP_DIR, `${RUN_STARTED}-${way}.json`), JSON.stringify({ way, ...latency }));
      }
      const base = stats(latency.bareProcess);
      const s = stats(latency.delivered);
      const floorBase = stats(latency.floorBare);
      const floor = stats(latency.floor);
      const label = `${delivery === 'sse' ? 'DC → SSE client' : 'DC → webhook receiver'}${where}`;
      row({
        metric: `${label} latency p50 (ms)`,
        value: fmt(s.p50, 2),
        baseline: `${fmt(base.p50, 2)} ms`,
        ratio: ratio(s.p50, base.p50),
        note: 'baseline: bare mtcute onNewMessage in a process of its own, same user, same push',
      });
      row({
        metric: `${label} latency p99 (ms)`,
        value: fmt(s.p99, 2),
        baseline: `${fmt(base.p99, 2)} ms`,
        ratio: ratio(s.p99, base.p99),
        note: `goal ≤ 1.5x; ${latency.delivered.length} samples${missing ? `, ${missing} not all arrived in 5 s` : ''}; only this receiver connected`,
      });
      for (const at of ['p50', 'p99'] as const) {
        row({
          metric: `  floor → ${delivery === 'sse' ? 'SSE client' : 'webhook receiver'}${where} ${at} (ms)`,
          value: fmt(floor[at], 2),
          baseline: `${fmt(floorBase[at], 2)} ms`,
          ratio: ratio(floor[at], floorBase[at]),
          note: `service ÷ floor ${ratio(s[at], floor[at])}; floor: a bare client, an O_DSYNC append, the same hop; samples alternated`,
        });
      }
      await disconnectFloor();
      if (delivery === 'sse') disconnectSse = disconnect;
      else await disconnect();
    }
    fs.closeSync(raw);
    await Promise.all([bareProcess.stop(), floorBare.stop(), relay.stop()]); // not a part of the burst below
    const append = stats(rawAppend);
    row({
      metric: `durable append alone p50 / p99 (ms)${where}`,
      value: `${fmt(append.p50, 2)} / ${fmt(append.p99, 2)}`,
      note: `one ${RAW_LINE.length}-byte line, O_DSYNC, beside the journal between the samples: what every event waits for before delivery`,
    });

    // Throughput: a burst, journal → SSE, beside the onNewMessage of a bare client in this process, beside the DC
    // (logged in only now: during the samples it would share the cores with the processes measured). Its updates
    // loop starts a little after the login, and what arrives before is behind its starting state: it is ready
    // once a probe reaches it.
    bare = await sandboxClient(dc);
    await loginSandboxClient(bare, dc, receiverPhone);
    bare.onNewMessage.add((m) => arrivals.record('bare', m.text, monotonicMs()));
    for (let probe = 0; ; probe++) {
      dc.controls.deliverMessage(senderPhone, receiverPhone, `probe ${probe}`);
      if (await arrivals.until(() => arrivals.of('bare').has(`probe ${probe}`), 1_000)) break;
      if (probe === 30) throw new Error('the bare client in this process gets no updates');
    }
    arrivals.of('sse').clear();
    arrivals.of('bare').clear();
    const last = `burst ${BURST - 1}`;
    const started = monotonicMs();
    for (let i = 0; i < BURST; i++) dc.controls.deliverMessage(senderPhone, receiverPhone, `burst ${i}`);
    const complete = await arrivals.until(() => arrivals.of('bare').has(last) && arrivals.of('sse').size >= BURST, 120_000);
    const lastAt = (seen: Map<string, number>): number => Math.max(...seen.values());
    const ssePerSecond = (arrivals.of('sse').size / (lastAt(arrivals.of('sse')) - started)) * 1000;
    const barePerSecond = (arrivals.of('bare').size / (lastAt(arrivals.of('bare')) - started)) * 1000;
    row({
      metric: `events / s, journal → SSE (burst)${where}`,
      value: fmt(ssePerSecond),
      baseline: `${fmt(barePerSecond)} /s`,
      ratio: ratio(ssePerSecond, barePerSecond),
      note: `${BURST} messages; goal ≥ 2000/s; baseline: bare mtcute onNewMessage for the same burst, in the DC's process${complete ? '' : `; only ${arrivals.of('sse').size} arrived`}`,
    });
    await disconnectSse?.();
  } finally {
    await bare?.destroy();
    await Promise.all(consumers.map((c) => c.stop()));
    await svc.stop();
  }
}

async function reconnectsOf(svc: ServiceProcess): Promise<number> {
  const metrics = await svc.request('GET', '/metrics');
  return Number(/^telegram_service_reconnects_total (\d+)/m.exec(String(metrics.body))?.[1] ?? NaN);
}

/** Idle logged-in accounts in one service process: reconnects per minute after they settled. */
async function serviceReconnects(dc: TestSandbox, root: string, accounts: number, firstNumber: number): Promise<{ perMinute: number; rss: number; loginsPerSecond: number }> {
  const svc = await startService({
    dataDir: path.join(root, `reconnects-${accounts}`),
    dc,
    env: { LOGIN_RATE_LIMIT: '0', CLIENT_READY_TIMEOUT: '60s' },
  });
  try {
    const logins = await pool(accounts, 20, (i) => login(svc, `idle-${i}`, `+999662${String(firstNumber + i).padStart(4, '0')}`));
    if (logins.errors.length) throw new Error(`logins failed: ${logins.errors.slice(0, 3).join(' | ')}`);
    await sleep(10_000); // updates loops start and catch up
    const before = await reconnectsOf(svc);
    await sleep(RECONNECT_WINDOW_MS);
    const delta = (await reconnectsOf(svc)) - before;
    return { perMinute: (delta * 60_000) / RECONNECT_WINDOW_MS, rss: rssMiB(svc.proc.pid!), loginsPerSecond: logins.perSecond };
  } finally {
    await svc.stop();
  }
}

/** Bare mtcute 0.30 clients with default settings (updates on, no idle ping), idle after one request each. */
async function bareReconnects(dc: TestSandbox, clients: number, firstNumber: number): Promise<number> {
  const all: TelegramClient[] = [];
  let reconnects = 0;
  let counting = false;
  try {
    await pool(clients, 20, async (i) => {
      const client = await sandboxClient(dc);
      all.push(client);
      client.onConnectionState.add((state) => {
        if (counting && state === 'connecting') reconnects++;
      });
      await loginSandboxClient(client, dc, `+999662${String(firstNumber + i).padStart(4, '0')}`);
      await client.getMe();
    });
    await sleep(5_000);
    counting = true;
    await sleep(RECONNECT_WINDOW_MS);
    counting = false;
    return (reconnects * 60_000) / RECONNECT_WINDOW_MS;
  } finally {
    await Promise.all(all.map((c) => c.destroy().catch(() => undefined)));
  }
}

/** `parts`: 'latency' runs the latency and throughput figures only (the reconnect figures take minutes). */
export async function benchEvents(parts: 'all' | 'latency' = 'all'): Promise<void> {
  section('Events (real service process, sandbox DC over TCP)');
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'bench-events-'));
  // A fresh DC for each latency run: the DC (in this process) saves its whole state, every message of every box,
  // 200 ms after a change, so a DC that holds an earlier run's burst would stall this process's loop — the
  // clients' and the bare client's alike — during the next run.
  // Its state lives in memory (tmpfs) where there is one: the DC stands in for Telegram's servers, whose disk
  // is not the service's; on this machine's disk its state saves (an fsync every 200 ms, of a state that grows
  // with every message) shared the disk with the journal's appends.
  const withDc = async (run: (dc: TestSandbox) => Promise<void>): Promise<void> => {
    const dataDir = await fsp.mkdtemp(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'bench-events-dc-'));
    const dc = await startTestSandbox({ limits: { maxConnections: 20_000 }, dataDir });
    try {
      await run(dc);
    } finally {
      await dc.dispose();
      await fsp.rm(dataDir, { recursive: true, force: true });
    }
  };
  try {
    await withDc((dc) => latencyAndThroughput(dc, root, '', '+9996627001', '+9996627003'));
    // The same with the data directory on tmpfs: what the journal's fsync costs on this machine's disk.
    if (fs.existsSync('/dev/shm')) {
      const shm = await fsp.mkdtemp('/dev/shm/bench-events-');
      try {
        await withDc((dc) => latencyAndThroughput(dc, shm, ', tmpfs', '+9996627002', '+9996627004'));
      } finally {
        await fsp.rm(shm, { recursive: true, force: true });
      }
    }
    if (parts === 'latency') return;
    await withDc((dc) => reconnects(dc, root));
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
}

/** Reconnects per minute of idle accounts in the service, beside bare mtcute clients with default settings. */
async function reconnects(dc: TestSandbox, root: string): Promise<void> {
  const bare1 = await bareReconnects(dc, 1, 3000);
  const bare100 = await bareReconnects(dc, 100, 3100);
  for (const [accounts, first, bare] of [[1, 0, bare1], [100, 100, bare100], [1000, 1000, undefined]] as const) {
    const measured = await serviceReconnects(dc, root, accounts, first);
    row({
      metric: `reconnects / minute, ${accounts} idle account${accounts === 1 ? '' : 's'}`,
      value: fmt(measured.perMinute, 1),
      ...(bare !== undefined ? { baseline: `${fmt(bare, 1)} /min`, note: `baseline: ${accounts} bare mtcute client${accounts === 1 ? '' : 's'}, default settings` } : {}),
    });
    console.log(`    (${accounts} accounts: service RSS ${fmt(measured.rss)} MiB, logins ${fmt(measured.loginsPerSecond)}/s, ${RECONNECT_WINDOW_MS / 1000} s window after 10 s to settle)`);
  }
}
