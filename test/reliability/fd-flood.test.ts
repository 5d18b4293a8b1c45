/**
 * Issue 7 defect 6 — file-descriptor exhaustion by anyone on the machine. Idle connections without a
 * token (some of them half a request line, slowloris style) to the HTTP API and to both in-process
 * sandbox DC ports, more of them than the process may open files. The service must stay within its
 * limit, shed the flood first, and keep its own MTProto session and the API answering.
 *
 * Scale: the flood was ~20,000 connections against a 20,000-file limit. Here the service runs
 * under `ulimit -n 1024` and the flood is 1,100 + 2 × 300 connections — the same overrun at a size that
 * is safe for a 2-core CI box and for the test process's own file limit. The caps are the service's
 * defaults, which it fits to the limit it finds.
 */
import fs from 'node:fs';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startService, type ServiceProcess } from '../helpers/service-process.js';
import { eventually, sleep } from '../helpers/sandbox-service.js';
import { recordTotals } from './totals.js';

const AREA = 'load (connection flood)';
const counts = { casesTried: 0, faultsInjected: 0, httpRequests: 0, http5xx: 0, sessionsLost: 0 };
afterAll(() => recordTotals(AREA, counts));

const FILE_LIMIT = 1024;
const HTTP_FLOOD = 1_100;
const DC_FLOOD = 300;

interface Flood {
  sockets: net.Socket[];
  /** Connections the server closed (the flood being shed). */
  closedByServer(): number;
  end(): void;
}

/** Opens `n` connections to 127.0.0.1:port, 100 at a time; each sends `greeting` (if any) and then idles. */
async function flood(port: number, n: number, greeting?: (i: number) => string): Promise<Flood> {
  const sockets: net.Socket[] = [];
  let closedByServer = 0;
  let ending = false;
  for (let i = 0; i < n; i += 100) {
    const batch = Array.from({ length: Math.min(100, n - i) }, (_, j) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (!ending) closedByServer++;
      });
      socket.resume();
      sockets.push(socket);
      return new Promise<void>((resolve) => {
        socket.once('connect', () => {
          const text = greeting?.(i + j);
          if (text) socket.write(text);
          resolve();
        });
        socket.once('close', () => resolve());
      });
    });
    await Promise.all(batch);
  }
  return {
    sockets,
    closedByServer: () => closedByServer,
    end() {
      ending = true;
      for (const s of sockets) s.destroy();
    },
  };
}

const openFiles = (pid: number) => fs.readdirSync(`/proc/${pid}/fd`).length;

describe('a flood of idle connections without a token', () => {
  let svc: ServiceProcess | undefined;
  afterAll(async () => {
    await svc?.kill9();
  });

  it(`more than the process's file limit (${FILE_LIMIT}): the service sheds them and keeps answering, with its MTProto session`, async () => {
    counts.casesTried++;
    svc = await startService({ fileLimit: FILE_LIMIT, env: { LOGIN_RATE_LIMIT: '0' } });
    const banner = await svc.waitForLog(/^SANDBOX MODE/);
    const dcPorts = (banner.dcs as { port: number }[]).map((d) => d.port);
    expect(dcPorts).toHaveLength(2);
    expect((await svc.request('POST', '/api/telegram/auth/send-code', { phone: '+9996621234' })).status).toBe(200);
    expect((await svc.request('POST', '/api/telegram/auth/verify-code', { code: '22222' })).body.state).toBe('authenticated');
    expect((await svc.request('GET', '/api/telegram/me')).status).toBe(200);
    counts.httpRequests += 3;

    // Half of the HTTP flood is silent, half sends an unfinished request line (slowloris).
    const floods = [
      await flood(svc.port, HTTP_FLOOD, (i) => (i % 2 ? 'GET /api/telegram/status HTTP/1.1\r\nHost: x\r\n' : '')),
      ...(await Promise.all(dcPorts.map((port) => flood(port, DC_FLOOD)))),
    ];
    counts.faultsInjected += HTTP_FLOOD + 2 * DC_FLOOD;
    try {
      // Held open, the flood is more than the process may open; the service stays under its limit.
      const filesDuringFlood = openFiles(svc.proc.pid!);
      expect(filesDuringFlood).toBeLessThan(FILE_LIMIT - 32);
      // Its own answers keep coming: the API, and calls that need its MTProto session to the DC.
      for (let round = 0; round < 3; round++) {
        for (const route of ['/healthz', '/api/telegram/status', '/api/telegram/me']) {
          const res = await svc.request('GET', route, undefined, { signal: AbortSignal.timeout(10_000) });
          counts.httpRequests++;
          if (res.status >= 500) counts.http5xx++;
          expect(res.status, `${route} during the flood: ${JSON.stringify(res.body)}`).toBe(200);
        }
        const st = (await svc.request('GET', '/api/telegram/status')).body;
        counts.httpRequests++;
        if (st.state !== 'authenticated') counts.sessionsLost++;
        expect(st).toMatchObject({ state: 'authenticated', session: { connection: 'online' } });
        await sleep(200);
      }
      // The flood was shed: the service closed the surplus of every kind, not its own connections.
      expect(floods[0]!.closedByServer()).toBeGreaterThan(HTTP_FLOOD - FILE_LIMIT);
      for (const dcFlood of floods.slice(1)) expect(dcFlood.closedByServer()).toBeGreaterThan(0);
      console.log(
        `connection flood: ${HTTP_FLOOD} HTTP + 2 × ${DC_FLOOD} DC connections against a ${FILE_LIMIT}-file limit; ` +
          `service files open during the flood: ${filesDuringFlood}; closed by the service: HTTP ${floods[0]!.closedByServer()}, ` +
          `DC ${floods[1]!.closedByServer()} + ${floods[2]!.closedByServer()}`,
      );
    } finally {
      for (const f of floods) f.end();
    }
    await eventually(async () => ((await svc!.request('GET', '/api/telegram/status')).body.session.validation === 'valid' ? true : undefined), 'validation valid after the flood');
    counts.httpRequests++;
    expect(await svc.stop()).toBe(0);
    svc = undefined;
  });
});
