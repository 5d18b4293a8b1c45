/**
 * Service figures, each beside a bare baseline measured in the same run:
 * restart → authenticated (vs a bare node HTTP server start), restart → validation valid,
 * status requests/s (vs a bare Fastify hello-world), session write latency (vs a bare
 * temp+fsync+rename of the same bytes), session writes per minute while idle, RSS when idle.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pino from 'pino';
import { freePort, REPO_ROOT, startService, type ServiceProcess } from '../test/helpers/service-process.js';
import { startTestSandbox } from '@telegram-service/sandbox-dc/testing';
import { createSessionStore } from '../src/store/files/account-files.js';
import { fmt, percentile, ratio, row, section } from './report.js';

async function waitUntil(pred: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error('timed out');
}

function rssKb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

/** A bare server process: time from spawn to its first answer, and the process for RSS. */
async function startBare(kind: 'http' | 'fastify') {
  const port = await freePort();
  const t0 = performance.now();
  const proc = spawn(process.execPath, [path.join(REPO_ROOT, 'bench', 'bare-servers.mjs'), kind, String(port)], {
    cwd: REPO_ROOT,
    stdio: 'ignore',
  });
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/`)).ok);
  return { port, proc, startMs: performance.now() - t0, stop: () => proc.kill('SIGTERM') };
}

async function loadTest(url: string, headers: Record<string, string> = {}) {
  const res = await autocannon({ url, connections: 50, duration: 5, headers });
  return { rps: res.requests.average, p99: res.latency.p99, errors: res.errors + res.non2xx };
}

async function statusBody(svc: ServiceProcess) {
  return (await svc.request('GET', '/api/telegram/status')).body;
}

export async function benchService(): Promise<void> {
  section('Service (sandbox DC over TCP, real service process)');
  const dc = await startTestSandbox();
  const dc2 = dc.dcs.find((d) => d.id === 2)!;
  const sandbox = { host: dc2.host, port: dc2.port, publicKeyPem: dc.publicKeyPem };
  const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'bench-service-'));
  try {
    // Log in once.
    let svc = await startService({ dataDir, sandbox });
    await svc.request('POST', '/api/telegram/auth/send-code', { phone: '+9996621234' });
    const login = await svc.request('POST', '/api/telegram/auth/verify-code', { code: '22222' });
    if (login.body?.state !== 'authenticated') throw new Error(`login failed: ${JSON.stringify(login.body)}`);
    await svc.stop();

    // Restart → authenticated, and → validation valid.
    const bareHttp = await startBare('http');
    const t0 = performance.now();
    svc = await startService({ dataDir, sandbox, env: { API_TOKEN: svc.token } });
    await waitUntil(async () => (await statusBody(svc)).authenticated === true);
    const toAuthenticated = performance.now() - t0;
    await waitUntil(async () => (await statusBody(svc)).session?.validation === 'valid');
    const toValid = performance.now() - t0;
    row({ metric: 'restart → status authenticated (ms)', value: fmt(toAuthenticated), baseline: `${fmt(bareHttp.startMs)} ms`, ratio: ratio(toAuthenticated, bareHttp.startMs), note: 'baseline: bare node HTTP server spawn → first answer' });
    row({ metric: 'restart → validation valid (ms)', value: fmt(toValid), baseline: `${fmt(bareHttp.startMs)} ms`, ratio: ratio(toValid, bareHttp.startMs) });

    // Status throughput.
    const bareFastify = await startBare('fastify');
    const bare = await loadTest(`http://127.0.0.1:${bareFastify.port}/`);
    // The status route is not rate-limited; the token is checked on every request.
    const status = await loadTest(`${svc.baseUrl}/api/telegram/status`, { authorization: `Bearer ${svc.token}` });
    row({ metric: 'GET /api/telegram/status requests / s', value: fmt(status.rps), baseline: `${fmt(bare.rps)} rps`, ratio: ratio(status.rps, bare.rps), note: `50 connections, 5 s, p99 ${status.p99} ms vs ${bare.p99} ms, ${status.errors} errors` });

    // Writes while idle: watch session.json for 30 s (no requests).
    const sessionFile = path.join(dataDir, 'session.json');
    let writes = 0;
    const watcher = fs.watch(dataDir, (_ev, name) => {
      if (name === 'session.json') writes++;
    });
    const idleMs = 30_000;
    await new Promise((r) => setTimeout(r, idleMs));
    watcher.close();
    row({ metric: 'session.json writes / minute while idle', value: fmt((writes * 60_000) / idleMs, 0), note: 'should be 0' });

    row({ metric: 'RSS when idle (MiB)', value: fmt(rssKb(svc.proc.pid!) / 1024), baseline: `${fmt(rssKb(bareHttp.proc.pid!) / 1024)} MiB`, ratio: ratio(rssKb(svc.proc.pid!), rssKb(bareHttp.proc.pid!)), note: 'baseline: bare node HTTP server' });
    bareHttp.stop();
    bareFastify.stop();
    await svc.stop();

    // Session write latency: the store's atomic write vs a bare temp+fsync+rename of the same bytes.
    const bytes = await fsp.readFile(sessionFile);
    const store = createSessionStore({ dataDir, environment: 'sandbox', log: pino({ level: 'silent' }) });
    await store.load();
    const ours: number[] = [];
    for (let i = 0; i < 200; i++) {
      const s = performance.now();
      await store.updateMeta({ floodWaits: { 'bench.method': Date.now() + i } });
      ours.push(performance.now() - s);
    }
    await store.close();
    const bareLat: number[] = [];
    const bareDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'bench-bare-write-'));
    for (let i = 0; i < 200; i++) {
      const s = performance.now();
      const tmp = path.join(bareDir, `f.tmp`);
      const fh = await fsp.open(tmp, 'w', 0o600);
      await fh.writeFile(bytes);
      await fh.sync();
      await fh.close();
      await fsp.rename(tmp, path.join(bareDir, 'f'));
      bareLat.push(performance.now() - s);
    }
    await fsp.rm(bareDir, { recursive: true, force: true });
    ours.sort((a, b) => a - b);
    bareLat.sort((a, b) => a - b);
    row({ metric: 'session write latency p50 (ms)', value: fmt(percentile(ours, 50), 2), baseline: `${fmt(percentile(bareLat, 50), 2)} ms`, ratio: ratio(percentile(ours, 50), percentile(bareLat, 50)), note: `${bytes.length} bytes` });
    row({ metric: 'session write latency p99 (ms)', value: fmt(percentile(ours, 99), 2), baseline: `${fmt(percentile(bareLat, 99), 2)} ms`, ratio: ratio(percentile(ours, 99), percentile(bareLat, 99)) });
  } finally {
    await dc.dispose();
    await fsp.rm(dataDir, { recursive: true, force: true });
  }
}
