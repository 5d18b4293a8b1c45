/**
 * The controls over HTTP for the CLI form of the DC: bound to 127.0.0.1 only, JSON in and out.
 *
 *   GET  /                         → the list of controls
 *   GET  /<control>?arg=…          → read-only controls (listUsers, listAuthKeys, listSessions, lastCode?phone=, getUser?user=,
 *                                    authKeysOfUser?user=, pushesPaused, doubleOwnerMoments)
 *   POST /<control>  {json args}   → every control, named arguments in a JSON object, e.g.
 *        POST /createUser {"phone":"+15550001111","password":"pw"}   POST /revokeAuthKey {"authKeyId":"…"}
 *        POST /injectError {"method":"auth.sendCode","code":420,"message":"FLOOD_WAIT_30","times":1}
 *        POST /deliverMessage {"from":"+9996621111","to":"+9996622222","text":"hi"}   POST /pausePushes {"user":"+9996622222"}
 *        POST /acceptLoginToken {"user":"+9996621111","token":"tg://login?token=…"}
 * POSTs must carry `content-type: application/json`, so a web page cannot reach them without a CORS
 * preflight (which this server never approves). Every request must be addressed to a loopback host
 * (Host: 127.0.0.1, localhost or [::1], with this port or none): a web page whose own name an attacker
 * re-points at 127.0.0.1 (DNS rebinding) sends its own name as Host and is refused with 403, so it
 * cannot read login codes. At most 64 connections at once (each is a file descriptor).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ControlError, type SandboxControls } from './controls.js';

const MAX_BODY = 64 * 1024;
const MAX_CONNECTIONS = 64;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Whether a Host header names this endpoint by a loopback name (a port, if any, must be ours). */
export function isLoopbackHost(host: string | undefined, port: number): boolean {
  const match = /^(\[[^\]]*\]|[^:]+)(?::(\d+))?$/.exec((host ?? '').trim().toLowerCase());
  if (!match) return false;
  return LOOPBACK_HOSTS.has(match[1]!) && (match[2] === undefined || Number(match[2]) === port);
}

type Args = Record<string, unknown>;

const str = (a: Args, k: string): string => {
  const v = a[k];
  if (typeof v !== 'string' || !v) throw new ControlError(`"${k}" (string) is required`);
  return v;
};
const num = (a: Args, k: string): number => {
  const v = typeof a[k] === 'string' && a[k] !== '' ? Number(a[k]) : a[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ControlError(`"${k}" (number) is required`);
  return v;
};
const optNum = (a: Args, k: string): number | undefined => (a[k] === undefined ? undefined : num(a, k));
const optBool = (a: Args, k: string): boolean | undefined => {
  const v = a[k];
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new ControlError(`"${k}" must be true or false`);
};
/** A user named by id (number) or phone / username (string), or undefined when none is given. */
const optUser = (a: Args): number | string | undefined => {
  const v = a.user ?? a.userId ?? a.phone;
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v) return v;
  throw new ControlError('"user" must be an id, phone or username');
};
const user = (a: Args): number | string => {
  const v = optUser(a);
  if (v === undefined) throw new ControlError('"user" (id, phone or username) is required');
  return v;
};

const READ_ONLY = new Set(['listUsers', 'listAuthKeys', 'listSessions', 'lastCode', 'getUser', 'authKeysOfUser', 'pushesPaused', 'doubleOwnerMoments']);

function controlTable(c: SandboxControls): Record<string, (a: Args) => unknown> {
  return {
    createUser: (a) => c.createUser(a as never),
    getUser: (a) => c.getUser(user(a)) ?? null,
    listUsers: () => c.listUsers(),
    lastCode: (a) => ({ code: c.lastCode(str(a, 'phone')) ?? null }),
    setCodeLifetime: (a) => c.setCodeLifetime(num(a, 'ms')),
    revokeAuthKey: (a) => c.revokeAuthKey(str(a, 'authKeyId')),
    terminateSession: (a) => c.terminateSession(str(a, 'authKeyId')),
    deactivateUser: (a) => c.deactivateUser(user(a)),
    reactivateUser: (a) => c.reactivateUser(user(a)),
    forgetAuthKey: (a) => c.forgetAuthKey(str(a, 'authKeyId')),
    markAuthKeyDuplicated: (a) => c.markAuthKeyDuplicated(str(a, 'authKeyId')),
    injectError: (a) => c.injectError(str(a, 'method'), { code: num(a, 'code'), message: str(a, 'message') }, optNum(a, 'times')),
    injectFloodWait: (a) => c.injectFloodWait(str(a, 'method'), num(a, 'seconds'), optNum(a, 'times')),
    clearInjectedErrors: () => c.clearInjectedErrors(),
    setAnswerDelay: (a) => c.setAnswerDelay(num(a, 'ms')),
    dropConnections: (a) => c.dropConnections(optNum(a, 'dcId')),
    stopListening: (a) => c.stopListening(optNum(a, 'dcId')),
    startListening: (a) => c.startListening(optNum(a, 'dcId')),
    listAuthKeys: () => c.listAuthKeys(),
    authKeysOfUser: (a) => c.authKeysOfUser(user(a)),
    listSessions: () => c.listSessions(),
    deliverMessage: (a) => {
      const from = a.from;
      const to = a.to;
      if ((typeof from !== 'string' && typeof from !== 'number') || (typeof to !== 'string' && typeof to !== 'number')) {
        throw new ControlError('"from" and "to" (user id, phone or username) are required');
      }
      return c.deliverMessage(from, to, str(a, 'text'));
    },
    pausePushes: (a) => c.pausePushes(optUser(a)),
    resumePushes: (a) => c.resumePushes(optUser(a), { tooLong: optBool(a, 'tooLong') }),
    pushesPaused: () => c.pushesPaused(),
    setUpdateLimits: (a) =>
      c.setUpdateLimits({
        ...(a.differenceSliceSize !== undefined && { differenceSliceSize: num(a, 'differenceSliceSize') }),
        ...(a.differenceTooLongGap !== undefined && { differenceTooLongGap: num(a, 'differenceTooLongGap') }),
      }),
    acceptLoginToken: (a) => c.acceptLoginToken(user(a), a.token === undefined ? undefined : str(a, 'token')),
    setLoginTokenLifetime: (a) => c.setLoginTokenLifetime(num(a, 'ms')),
    setFutureAuthTokenLifetime: (a) => c.setFutureAuthTokenLifetime(num(a, 'ms')),
    doubleOwnerMoments: () => c.doubleOwnerMoments(),
    resetDoubleOwnerMoments: () => c.resetDoubleOwnerMoments(),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? { ok: true });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Args> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ControlError('request body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ControlError('body is not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ControlError('body must be a JSON object');
  return parsed as Args;
}

export interface AdminServer {
  url: string;
  close(): Promise<void>;
}

export async function startAdminServer(controls: SandboxControls, port = 0): Promise<AdminServer> {
  const table = controlTable(controls);
  let boundPort = port;
  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        if (!isLoopbackHost(req.headers.host, boundPort)) {
          return send(res, 403, {
            error: 'the admin endpoint only answers requests addressed to 127.0.0.1, localhost or [::1] (Host header refused, against DNS rebinding)',
          });
        }
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const name = url.pathname.replace(/^\/+|\/+$/g, '');
        if (req.method === 'GET' && name === '') return send(res, 200, { controls: Object.keys(table) });
        const control = Object.hasOwn(table, name) ? table[name] : undefined;
        if (!control) return send(res, 404, { error: `unknown control: ${name}` });
        let args: Args;
        if (req.method === 'GET') {
          if (!READ_ONLY.has(name)) return send(res, 405, { error: `${name} needs POST` });
          args = Object.fromEntries(url.searchParams);
        } else if (req.method === 'POST') {
          if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
            return send(res, 415, { error: 'content-type must be application/json' });
          }
          args = await readJson(req);
        } else {
          return send(res, 405, { error: 'use GET or POST' });
        }
        const result = await control(args);
        send(res, 200, result === undefined ? { ok: true } : result);
      } catch (e) {
        if (e instanceof ControlError) send(res, 400, { error: e.message });
        else send(res, 500, { error: 'internal error' });
      }
    })();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  boundPort = address.port;
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
