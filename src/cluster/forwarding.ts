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
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AccountStatus } from '../account/types.js';
import { HttpError } from '../http/errors.js';

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
  ownerOf: (id: string) => Promise<Owner | undefined>;
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
    if (!(await this.opts.exists(id))) {
      if (!opts.createIfMissing) throw new HttpError(404, 'ACCOUNT_NOT_FOUND', 'No such account');
      await this.opts.create(id);
    }
    const deadline = Date.now() + (this.opts.waitMs ?? 15_000);
    for (let attempt = 0; ; attempt++) {
      if (this.opts.isLocal(id)) return 'local';
      const owner = await this.opts.ownerOf(id);
      if (owner && !owner.self && owner.url) {
        const outcome = await this.forward(request, reply, owner, id);
        if (outcome === 'answered') return 'answered';
      } else if (!owner && opts.storedStatusOk) {
        await reply.send(await this.opts.storedStatus(id));
        return 'answered';
      }
      if (Date.now() > deadline) {
        reply.header('retry-after', '1');
        throw new HttpError(503, 'ACCOUNT_UNAVAILABLE', 'No instance holds this account right now (a take-over is under way); retry shortly');
      }
      await sleep(Math.min(250, 25 * 2 ** Math.min(attempt, 4)));
    }
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
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(), 65_000);
    const watch = setInterval(() => {
      void this.opts.ownerOf(id).then(
        (now) => {
          if (now?.incarnation !== owner.incarnation) abort.abort();
        },
        () => undefined,
      );
    }, 500);
    let response: Response;
    let body: Buffer;
    try {
      response = await fetch(`${owner.url}${request.url}`, {
        method: request.method,
        headers,
        body: hasBody ? JSON.stringify(request.body) : undefined,
        signal: abort.signal,
      });
      body = Buffer.from(await response.arrayBuffer());
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      // Refused: the owner never saw the request. Otherwise it may have acted on it: only a read is repeated.
      if (code === 'ECONNREFUSED' || isRead) {
        this.log.debug({ owner: owner.instanceId, code }, 'Owner unreachable or gone; looking again');
        return 'retry';
      }
      throw new HttpError(503, 'OWNER_UNAVAILABLE', 'The instance holding this account stopped answering during the request; check status and retry');
    } finally {
      clearTimeout(timeout);
      clearInterval(watch);
    }
    if (response.status === NOT_OWNER_STATUS) return 'retry';
    // A read that failed because the owner was letting the account go: ask the next owner.
    if (isRead && response.status >= 500 && (await this.opts.ownerOf(id).catch(() => undefined))?.incarnation !== owner.incarnation) return 'retry';
    response.headers.forEach((value, name) => {
      if (!HOP_HEADERS.has(name)) reply.header(name, value);
    });
    await reply.code(response.status).send(body);
    return 'answered';
  }
}

function macOf(apiToken: string, instanceId: string): string {
  return createHmac('sha256', apiToken).update(`forwarded:${instanceId}`).digest('base64url');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
