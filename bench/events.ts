/**
 * Events figures (issue 12), each beside a bare baseline measured in the same run:
 * - latency from a message sent at the DC to the service's SSE client and to its webhook receiver (p50/p99),
 *   beside a bare mtcute client of the same user getting the same push (onNewMessage) in a process of its own,
 *   as the service is (bare-mtcute.mjs listen; every arrival on the monotonic clock all processes share) — and,
 *   in the notes, a bare client in this process, beside the DC, which crosses no process boundary at all;
 * - the floor under those: one event-sized line appended durably (O_DSYNC, as the journal does) on the same
 *   filesystem, between the samples;
 * - events per second through journal → SSE for a burst, beside the bare client's onNewMessage rate;
 * - reconnects per minute of idle logged-in accounts (updates on) at 1, 100 and 1,000 accounts in one
 *   service process, beside bare mtcute 0.30 clients with default settings at 1 and 100.
 * The DC and the in-process bare client live in this process; the service, the baseline's bare client, the SSE
 * client and the webhook receiver each in its own.
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

const LATENCY_SAMPLES = 300;
const BURST = 5_000;
const RECONNECT_WINDOW_MS = 30_000;
/** About one journal line of a message.new event. */
const RAW_LINE = Buffer.from(`${JSON.stringify({ id: 1, at: new Date(0).toISOString(), type: 'message.new', key: 'n:700000002:1', data: { message: { id: 1, peer: 700000002, from: 700000002, date: new Date(0).toISOString(), text: 'latency 1', replyTo: null, out: false } } })}\n`);

/** The service on its own data directory, talking to the in-process DC; resolves once its API answers. */
async function startService(opts: { dataDir: string; dc: TestSandbox; env: Record<string, string> }): Promise<ServiceProcess> {
  const svc = await spawnService({ dataDir: opts.dataDir, dc: opts.dc, env: opts.env });
  await waitUntil(async () => (await svc.request('GET', '/api/telegram/status').catch(() => ({ status: 0 }))).status === 200, 60_000, 'the service to answer');
  return svc;
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(1);
  }
  return true;
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

/** A process that prints {"text","at"} lines: each text's arrival is recorded in `into` until the process ends. */
function collectArrivals(proc: { next: (timeoutMs?: number) => Promise<{ text?: unknown; at?: unknown }> }, into: Map<string, number>): void {
  void (async () => {
    for (;;) {
      const line = await proc.next(3_600_000);
      if (typeof line.text === 'string' && typeof line.at === 'number') into.set(line.text, line.at);
    }
  })().catch(() => undefined); // ends with the process
}

async function latencyAndThroughput(dc: TestSandbox, root: string, where: string, receiverPhone: string): Promise<void> {
  // A user the service logs in, the same user on two bare mtcute clients (other devices): one in a process of
  // its own, as the service is (the baseline), one in this process, beside the DC; and a sender. The SSE client
  // and the webhook receiver are processes of their own too, so neither waits for the other, for the DC or
  // for the bare clients here.
  const senderPhone = '+9996627000';
  if (!dc.controls.getUser(senderPhone)) dc.controls.createUser({ phone: senderPhone, firstName: 'Sender' });
  const svc = await startService({ dataDir: path.join(root, 'latency'), dc, env: { LOGIN_RATE_LIMIT: '0', WEBHOOK_RETRY_MAX: '1s' } });
  const secret = randomBytes(16).toString('hex');
  // Every arrival is timed where it happens (a callback in the receiving process).
  const arrivals = { bareProcess: new Map<string, number>(), bare: new Map<string, number>(), sse: new Map<string, number>(), webhook: new Map<string, number>() };
  const consumers: Array<{ stop: () => Promise<void> }> = [];
  let bare: TelegramClient | undefined;
  try {
    const receiver = startEventConsumer(['webhook', secret]);
    consumers.push(receiver);
    const { url } = (await receiver.next(60_000)) as { url: string };
    collectArrivals(receiver, arrivals.webhook);
    await login(svc, 'bench', receiverPhone);
    bare = await sandboxClient(dc);
    await loginSandboxClient(bare, dc, receiverPhone);
    await bare.getMe();
    bare.onNewMessage.add((m) => arrivals.bare.set(m.text, monotonicMs()));
    const bareProcess = startBareMtcute('listen', dc, [receiverPhone]);
    consumers.push(bareProcess);
    if ((await bareProcess.next(60_000)).event !== 'ready') throw new Error('the bare mtcute process did not log in');
    collectArrivals(bareProcess, arrivals.bareProcess);
    await svc.request('PUT', '/api/accounts/bench/webhook', { url, secret });
    const sse = startEventConsumer(['sse', `${svc.baseUrl}/api/accounts/bench/events`, svc.token]);
    consumers.push(sse);
    collectArrivals(sse, arrivals.sse);
    const allHave = (text: string): boolean => Object.values(arrivals).every((seen) => seen.has(text));
    // Warm-up: every loop running, every path connected.
    dc.controls.deliverMessage(senderPhone, receiverPhone, 'warm-up');
    if (!(await until(() => allHave('warm-up'), 30_000))) throw new Error('the warm-up message did not reach every client');

    const latency = { bareProcess: [] as number[], bare: [] as number[], sse: [] as number[], webhook: [] as number[] };
    // The floor: what appending one event line durably costs on this filesystem, measured between the samples —
    // as the journal appends (O_DSYNC: the write returns once the line is on stable storage).
    const { O_WRONLY, O_CREAT, O_APPEND, O_DSYNC } = fs.constants;
    const raw = await fsp.open(path.join(root, 'raw-append.jsonl'), O_WRONLY | O_CREAT | O_APPEND | O_DSYNC);
    const rawAppend: number[] = [];
    let missing = 0;
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const text = `latency ${i}`;
      const sent = monotonicMs();
      dc.controls.deliverMessage(senderPhone, receiverPhone, text);
      if (!(await until(() => allHave(text), 5_000))) missing++;
      for (const kind of ['bareProcess', 'bare', 'sse', 'webhook'] as const) {
        const at = arrivals[kind].get(text);
        if (at !== undefined) latency[kind].push(at - sent);
      }
      const before = monotonicMs();
      await raw.write(RAW_LINE);
      rawAppend.push(monotonicMs() - before);
      await sleep(10);
    }
    await raw.close();
    await bareProcess.stop(); // not a part of the burst below
    const base = stats(latency.bareProcess);
    const inDcProcess = stats(latency.bare);
    for (const kind of ['sse', 'webhook'] as const) {
      const s = stats(latency[kind]);
      const label = `${kind === 'sse' ? 'DC → SSE client' : 'DC → webhook receiver'}${where}`;
      row({
        metric: `${label} latency p50 (ms)`,
        value: fmt(s.p50, 2),
        baseline: `${fmt(base.p50, 2)} ms`,
        ratio: ratio(s.p50, base.p50),
        note: `baseline: bare mtcute onNewMessage in a process of its own, same user, same push; in the DC's process ${fmt(inDcProcess.p50, 2)} ms`,
      });
      row({
        metric: `${label} latency p99 (ms)`,
        value: fmt(s.p99, 2),
        baseline: `${fmt(base.p99, 2)} ms`,
        ratio: ratio(s.p99, base.p99),
        note: `goal ≤ 1.5x; ${latency[kind].length} samples${missing ? `, ${missing} not all arrived in 5 s` : ''}; in the DC's process ${fmt(inDcProcess.p99, 2)} ms`,
      });
    }
    const floor = stats(rawAppend);
    row({
      metric: `durable append alone p50 / p99 (ms)${where}`,
      value: `${fmt(floor.p50, 2)} / ${fmt(floor.p99, 2)}`,
      note: `one ${RAW_LINE.length}-byte line, O_DSYNC, beside the journal between the samples: what every event waits for before delivery`,
    });

    // Throughput: a burst, journal → SSE, beside the in-process bare client's onNewMessage for the same burst.
    arrivals.sse.clear();
    arrivals.bare.clear();
    const last = `burst ${BURST - 1}`;
    const started = monotonicMs();
    for (let i = 0; i < BURST; i++) dc.controls.deliverMessage(senderPhone, receiverPhone, `burst ${i}`);
    const complete = await until(() => arrivals.bare.has(last) && arrivals.sse.size >= BURST, 120_000);
    const lastAt = (seen: Map<string, number>): number => Math.max(...seen.values());
    const ssePerSecond = (arrivals.sse.size / (lastAt(arrivals.sse) - started)) * 1000;
    const barePerSecond = (arrivals.bare.size / (lastAt(arrivals.bare) - started)) * 1000;
    row({
      metric: `events / s, journal → SSE (burst)${where}`,
      value: fmt(ssePerSecond),
      baseline: `${fmt(barePerSecond)} /s`,
      ratio: ratio(ssePerSecond, barePerSecond),
      note: `${BURST} messages; goal ≥ 2000/s; baseline: bare mtcute onNewMessage for the same burst, in the DC's process${complete ? '' : `; only ${arrivals.sse.size} arrived`}`,
    });
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
  const withDc = async (run: (dc: TestSandbox) => Promise<void>): Promise<void> => {
    const dc = await startTestSandbox({ limits: { maxConnections: 20_000 } });
    try {
      await run(dc);
    } finally {
      await dc.dispose();
    }
  };
  try {
    await withDc((dc) => latencyAndThroughput(dc, root, '', '+9996627001'));
    // The same with the data directory on tmpfs: what the journal's fsync costs on this machine's disk.
    if (fs.existsSync('/dev/shm')) {
      const shm = await fsp.mkdtemp('/dev/shm/bench-events-');
      try {
        await withDc((dc) => latencyAndThroughput(dc, shm, ', tmpfs', '+9996627002'));
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
