/**
 * Reconnect census: N logged-in mtcute clients (updates on, mtcute's defaults) in this process against
 * a sandbox DC in its own process; counts their reconnects over a while.
 *
 *   npx tsx --conditions source packages/sandbox-dc/test/tools/reconnect-census.ts [clients=100] [seconds=30] [--tdlib-ping]
 *
 * What it shows (see the package README, "Idle mtcute clients reconnect every ~7 s"): mtcute 0.30's
 * pinger sends ping_delay_disconnect with a 7 s delay while a request is pending and does not send a
 * longer one when it goes idle, so the DC closes the connection 7 s later, as the MTProto docs say it
 * must; mtcute reconnects and sends updates.getState, which starts the next round. --tdlib-ping makes
 * mtcute ping at once with its idle delay when it goes idle (as tdlib does when it goes offline),
 * which ends the loop.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SessionConnection } from '@mtcute/core';
import type { TelegramClient } from '@mtcute/node';
import { sandboxClient } from '../../src/testing/sandbox.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const CLIENTS = Number(args[0] ?? 100);
const SECONDS = Number(args[1] ?? 30);
const TDLIB_PING = process.argv.includes('--tdlib-ping');

if (TDLIB_PING) {
  // The client-side fix, for the record: when a connection stops being "active", ping right away so the
  // server's disconnect timer is re-armed with the idle delay instead of the active one.
  type Internals = { _active: boolean; _online: boolean; _isActive(): boolean; _session: { lastPingMsgId: { isZero(): boolean }; lastPingTime: number } };
  const proto = SessionConnection.prototype as unknown as Internals & { _flush(): void };
  const flush = proto._flush;
  proto._flush = function (this: Internals & { _flush(): void }) {
    const goingIdle = this._active && !(this._online && this._isActive());
    if (goingIdle && this._session.lastPingMsgId.isZero()) this._session.lastPingTime = -Infinity;
    flush.call(this);
  };
}

async function startDc(): Promise<{ dcs: { id: number; host: string; port: number }[]; publicKeyPem: string; stop(): void }> {
  const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', cli, '--port', '0', '--port2', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const dcs: { id: number; host: string; port: number }[] = [];
  let pem = '';
  for await (const line of createInterface({ input: child.stdout })) {
    const m = /^listening dc=(\d) (.+):(\d+)$/.exec(line);
    if (m) dcs.push({ id: Number(m[1]), host: m[2]!, port: Number(m[3]) });
    if (line.startsWith('-----BEGIN') || pem) pem += `${line}\n`;
    if (line.startsWith('-----END')) break;
  }
  return { dcs, publicKeyPem: pem, stop: () => child.kill('SIGTERM') };
}

const dc = await startDc();
const clients: TelegramClient[] = [];
let reconnects = 0;
let counting = false;
for (let i = 0; i < CLIENTS; i++) {
  const c = await sandboxClient(dc);
  c.onConnectionState.add((state) => {
    if (counting && state === 'connecting') reconnects++;
  });
  clients.push(c);
}
const started = Date.now();
for (let i = 0; i < CLIENTS; i += 10) {
  await Promise.all(
    clients.slice(i, i + 10).map((c, j) => c.start({ phone: `+999662${String(i + j).padStart(4, '0')}`, code: '22222', codeSentCallback: () => {} })),
  );
}
process.stdout.write(`${CLIENTS} clients logged in in ${Date.now() - started} ms${TDLIB_PING ? ' (with the tdlib-style idle ping)' : ''}\n`);
counting = true;
await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
counting = false;
process.stdout.write(`reconnects in ${SECONDS} s: ${reconnects} (${((reconnects / CLIENTS / SECONDS) * 60).toFixed(1)} per client per minute)\n`);
await Promise.all(clients.map((c) => c.destroy().catch(() => undefined)));
dc.stop();
await once(process, 'beforeExit');
