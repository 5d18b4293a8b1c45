// Bare mtcute clients, plain JavaScript run by plain node: the baselines the service's Telegram side is
// measured against. Configured as the service configures mtcute where it matters (memory storage, no
// updates loop), pointed at the sandbox DC (SANDBOX_DC_PUBLIC_KEY in the environment). One JSON line per step.
//   node bench/bare-mtcute.mjs login HOST:PORT PHONE           → {"session"}      (then exits)
//   node bench/bare-mtcute.mjs restore HOST:PORT SESSION       → {"event":"valid"} after storage → getMe, then idles
//   node bench/bare-mtcute.mjs send-code HOST:PORT PHONE       → {"ms"}: connect + key exchange + auth.sendCode
//   node bench/bare-mtcute.mjs many HOST:PORT COUNT FIRST      → {"event":"ready"} with COUNT clients logged in, then idles
//   node bench/bare-mtcute.mjs listen HOST:PORT PHONE          → {"event":"ready"} once logged in with mtcute's updates loop on
//                                                                 (its defaults), then {"text","at"} per onNewMessage — `at`:
//                                                                 the monotonic clock every process shares (ms)
//   node bench/bare-mtcute.mjs relay HOST:PORT PHONE JOURNAL    the floor under the service's delivery: {"url"} (its SSE endpoint),
//                                                                 {"event":"ready"} once logged in as listen is; then each
//                                                                 onNewMessage as an event line appended durably to JOURNAL
//                                                                 (O_DSYNC, on the loop's thread, as the service's journal
//                                                                 appends) and then written to every open SSE stream
//                                                                 ({"event":"connected"} per stream) and POSTed, signed, to the
//                                                                 webhook a stdin line {"webhook":{"url","secret"}} sets
//                                                                 ({"webhook":null} stops it), one at a time, in order
import { performance } from 'node:perf_hooks';
import { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import process from 'node:process';
import { createInterface } from 'node:readline';
import { MemoryStorage, TelegramClient } from '@mtcute/node';
import { addPublicKey, NodeCryptoProvider } from '@mtcute/node/utils.js';

const [mode, target, ...args] = process.argv.slice(2);
const [host, port] = target.split(':');
const crypto = new NodeCryptoProvider();
await crypto.initialize();
addPublicKey(crypto, process.env.SANDBOX_DC_PUBLIC_KEY);
const dc = { id: 2, ipAddress: host, port: Number(port) };

function client(opts = {}) {
  return new TelegramClient({
    apiId: 1,
    apiHash: 'sandbox-api-hash',
    storage: new MemoryStorage(),
    defaultDcs: { main: dc, media: { ...dc, mediaOnly: true } },
    disableUpdates: true,
    storageOptions: { cleanup: false },
    logLevel: 0,
    ...opts,
  });
}

const print = (value) => process.stdout.write(JSON.stringify(value) + '\n');
const phoneOf = (i) => `+999662${String(i).padStart(4, '0')}`;
process.on('SIGTERM', () => process.exit(0));

async function login(c, phone) {
  await c.start({ phone, code: () => '22222', codeSentCallback: () => {} });
}

if (mode === 'login') {
  const c = client();
  await login(c, args[0]);
  print({ session: await c.exportSession() });
  await c.destroy();
  process.exit(0);
} else if (mode === 'restore') {
  const c = client();
  await c.importSession(args[0]);
  await c.getMe();
  print({ event: 'valid' });
} else if (mode === 'send-code') {
  // mtcute's defaults (updates loop on): its flush right after the key exchange is not held back.
  const c = client({ disableUpdates: false });
  const t0 = performance.now();
  await c.call({ _: 'auth.sendCode', phoneNumber: args[0], apiId: 1, apiHash: 'sandbox-api-hash', settings: { _: 'codeSettings' } });
  print({ ms: performance.now() - t0 });
  await c.destroy();
  process.exit(0);
} else if (mode === 'many') {
  const [count, first] = args.map(Number);
  const clients = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(20, count) }, async () => {
      while (next < count) {
        const c = client();
        await login(c, phoneOf(first + next++));
        clients.push(c);
      }
    }),
  );
  print({ event: 'ready', clients: clients.length });
} else if (mode === 'listen') {
  const c = client({ disableUpdates: false });
  c.onNewMessage.add((m) => {
    const at = Number(process.hrtime.bigint()) / 1e6;
    print({ text: m.text, at });
  });
  await login(c, args[0]);
  await c.getMe();
  print({ event: 'ready' });
} else if (mode === 'relay') {
  const { O_WRONLY, O_CREAT, O_APPEND, O_DSYNC } = fs.constants;
  const journal = fs.openSync(args[1], O_WRONLY | O_CREAT | O_APPEND | O_DSYNC);
  const streams = new Set();
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write(': connected\n\n');
    streams.add(res);
    req.on('close', () => streams.delete(res));
    print({ event: 'connected' });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  print({ url: `http://127.0.0.1:${server.address().port}/events` });
  let webhook = null;
  createInterface({ input: process.stdin }).on('line', (line) => void (webhook = JSON.parse(line).webhook));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let nextId = 1;
  const c = client({ disableUpdates: false });
  c.onNewMessage.add((m) => {
    const raw = m.raw;
    const event = {
      id: nextId++,
      type: 'message.new',
      at: new Date().toISOString(),
      account: 'floor',
      message: { id: m.id, peer: raw.peerId, from: raw.fromId ?? null, date: m.date.toISOString(), text: m.text, replyTo: null, out: m.isOutgoing },
    };
    const body = Buffer.from(JSON.stringify(event));
    fs.writeSync(journal, Buffer.concat([body, Buffer.from('\n')]));
    for (const stream of streams) stream.write(`id: ${event.id}\ndata: ${body}\n\n`);
    if (webhook) {
      const signature = `sha256=${createHmac('sha256', webhook.secret).update(body).digest('hex')}`;
      const headers = { 'content-type': 'application/json', 'content-length': String(body.length), 'x-telegram-service-signature': signature };
      http.request(webhook.url, { method: 'POST', agent, headers }, (res) => res.resume()).on('error', () => undefined).end(body);
    }
  });
  await login(c, args[0]);
  await c.getMe();
  print({ event: 'ready' });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
