/**
 * Any instance answers any request: a request for an account held by another instance is forwarded to it
 * (its advertised INSTANCE_URL, with the client's own Authorization), and the owner's answer is relayed
 * as it is. While no instance holds the account (a take-over under way) the request waits for the new
 * owner, up to `waitMs`; a status request is answered at once from the database instead.
 *
 * A forwarded request carries `x-tgs-forwarded: <instance>.<mac>` (an HMAC of the instance id under the
 * API token, which every instance shares): the owner knows it comes from an instance — it does not count
 * it against the per-address login limit again, and never forwards it further: an instance that does not
 * hold the account answers 421 NOT_OWNER and the sender looks again.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AccountStatus } from '../account/types.js';
import { HttpError } from '../http/errors.js';
import { exponentialDelayMs } from '../timing/backoff.js';

export const FORWARDED_HEADER = 'x-tgs-forwarded';
export const NOT_OWNER_STATUS = 421;

export interface Owner {
  /** The holding incarnation (changes when the account changes hands). */
  incarnation: string;
  instanceId: string;
  url: string | null;
  self: boolean;
}

export interface ForwardingOptions {
  instanceId: string;
  apiToken: string;
  logger: Logger;
  /** Whether the account is live here (the registry holds it). */
  isLocal: (id: string) => boolean;
  exists: (id: string) => Promise<boolean>;
  /** Creates the account (the single-account routes create `default` on first use). */
  create: (id: string) => Promise<void>;
  /** The account's live holder: from memory, or from the database when `fresh`. */
  ownerOf: (id: string, opts?: { fresh?: boolean }) => Promise<Owner | undefined>;
  /** The holder as last seen, from memory only (watching a forwarded request). */
  cachedOwner: (id: string) => Owner | undefined;
  /** The number of the view held now, and of the last view asked for (views are numbered as they are asked for). */
  viewSeq: () => number;
  viewsStarted: () => number;
  /** The account's status from the database, for when no instance holds it. */
  storedStatus: (id: string) => Promise<AccountStatus>;
  /** How long a request waits for an owner (default 15 s). */
  waitMs?: number;
}

export type RouteOutcome = 'local' | 'answered';

const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date']);

export class AccountForwarding {
  private readonly mac: string;
  private readonly log: Logger;

  constructor(private readonly opts: ForwardingOptions) {
    this.mac = macOf(opts.apiToken, opts.instanceId);
    this.log = opts.logger.child({ module: 'forwarding' });
  }

  /** Whether the account is served here (held, and not being handed over). */
  isLocal(id: string): boolean {
    return this.opts.isLocal(id);
  }

  /** Whether the request was forwarded by an instance of this cluster. */
  isForwarded(request: FastifyRequest): boolean {
    const header = request.headers[FORWARDED_HEADER];
    if (typeof header !== 'string') return false;
    const dot = header.lastIndexOf('.');
    if (dot <= 0) return false;
    const expected = Buffer.from(macOf(this.opts.apiToken, header.slice(0, dot)));
    const given = Buffer.from(header.slice(dot + 1));
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /**
   * Serve here ('local'), or answer the request by forwarding it / from the database ('answered').
   * Call once the body is parsed (preValidation), after the token was checked against the account.
   */
  async route(request: FastifyRequest, reply: FastifyReply, id: string, opts: { createIfMissing: boolean; storedStatusOk: boolean }): Promise<RouteOutcome> {
    if (this.opts.isLocal(id)) return 'local';
    if (this.isForwarded(request)) {
      // Sent here as the owner, and not the owner (any more): the sender looks again.
      await reply.code(NOT_OWNER_STATUS).type('application/json; charset=utf-8').send({ error: { code: 'NOT_OWNER', message: 'This instance does not hold the account' } });
      return 'answered';
    }
    const deadline = Date.now() + (this.opts.waitMs ?? 15_000);
    for (let attempt = 0; ; attempt++) {
      if (this.opts.isLocal(id)) return 'local';
      // The first look is from memory; after a miss the database is asked.
      const owner = await this.opts.ownerOf(id, { fresh: attempt > 0 });
      if (owner && !owner.self && owner.url) {
        const outcome = await this.forward(request, reply, owner, id);
        if (outcome === 'answered') return 'answered';
      } else if (!owner && (await this.ensureAccount(id, opts.createIfMissing)) && opts.storedStatusOk) {
        // Nobody holds it, and it exists (it may have just been deleted, or never was: 404, above).
        await reply.send(await this.opts.storedStatus(id));
        return 'answered';
      }
      if (Date.now() > deadline) {
        reply.header('retry-after', '1');
        throw new HttpError(503, 'ACCOUNT_UNAVAILABLE', 'No instance holds this account right now (a take-over is under way); retry shortly');
      }
      await sleep(exponentialDelayMs(attempt + 1, 25, 250));
    }
  }

  /**
   * The account must exist: true when it does, false when it was just created (`createIfMissing`: the
   * single-account routes' `default`); ACCOUNT_NOT_FOUND otherwise. Also for the routes every instance serves
   * itself, whoever holds the account (events, read from the database).
   */
  async ensureAccount(id: string, createIfMissing: boolean): Promise<boolean> {
    if (this.opts.isLocal(id) || (await this.opts.exists(id))) return true;
    if (!createIfMissing) throw new HttpError(404, 'ACCOUNT_NOT_FOUND', 'No such account');
    await this.opts.create(id);
    return false;
  }

  /**
   * Forwards once; 'retry' when the owner turned out not to be it, could not be reached before it saw the
   * request, or lost the account during a read (a frozen or cut-off owner is abandoned as soon as its lease
   * is gone: the account's owner is watched while the request is out).
   */
  private async forward(request: FastifyRequest, reply: FastifyReply, owner: Owner, id: string): Promise<RouteOutcome | 'retry'> {
    const headers: Record<string, string> = { [FORWARDED_HEADER]: `${this.opts.instanceId}.${this.mac}` };
    if (request.headers.authorization) headers.authorization = request.headers.authorization;
    const hasBody = request.body !== undefined && request.method !== 'GET' && request.method !== 'HEAD';
    if (hasBody) headers['content-type'] = 'application/json';
    const isRead = request.method === 'GET';
    const since = this.opts.viewsStarted();
    let response: ForwardedResponse;
    try {
      response = await send(`${owner.url}${request.url}`, request.method, headers, hasBody ? JSON.stringify(request.body) : undefined, (abort) => {
        // The view of the cluster is refreshed every heartbeat: an owner whose lease ran out is abandoned.
        const watch = setInterval(() => {
          if (this.opts.viewSeq() > since && this.opts.cachedOwner(id)?.incarnation !== owner.incarnation) abort();
        }, 250);
        return () => clearInterval(watch);
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Refused: the owner never saw the request. Otherwise it may have acted on it: only a read is repeated.
      if (code === 'ECONNREFUSED' || isRead) {
        this.log.debug({ owner: owner.instanceId, code }, 'Owner unreachable or gone; looking again');
        return 'retry';
      }
      throw new HttpError(503, 'OWNER_UNAVAILABLE', 'The instance holding this account stopped answering during the request; check status and retry');
    }
    if (response.status === NOT_OWNER_STATUS) return 'retry';
    // A read that failed because the owner was letting the account go: ask the next owner.
    if (isRead && response.status >= 500 && (await this.opts.ownerOf(id, { fresh: true }).catch(() => undefined))?.incarnation !== owner.incarnation) return 'retry';
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined && !HOP_HEADERS.has(name)) reply.header(name, value);
    }
    await reply.code(response.status).send(response.body);
    return 'answered';
  }
}

interface ForwardedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Keep-alive connections to the other instances (node:http: a fraction of fetch's cost per request). */
const agents = { 'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }), 'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }) };

/** One HTTP request to an owner; `watch` may abort it (it returns its own cleanup). */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  watch: (abort: () => void) => () => void,
): Promise<ForwardedResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const transport = target.protocol === 'https:' ? https : http;
    const req = transport.request(target, { method, headers, agent: agents[target.protocol as 'http:' | 'https:'], timeout: 65_000 });
    const stopWatching = watch(() => req.destroy(Object.assign(new Error('the owner changed'), { code: 'EOWNERCHANGED' })));
    const done = (): void => stopWatching();
    req.on('timeout', () => req.destroy(Object.assign(new Error('the owner did not answer in time'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => {
      done();
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (err) => {
        done();
        reject(err);
      });
      res.on('end', () => {
        done();
        resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    req.end(body);
  });
}

function macOf(apiToken: string, instanceId: string): string {
  return createHmac('sha256', apiToken).update(`forwarded:${instanceId}`).digest('base64url');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
