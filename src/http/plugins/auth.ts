/**
 * Bearer tokens for the /api scope: the admin token (API_TOKEN / DATA_DIR/api_token) reaches everything;
 * a scoped token (`tgs_…`, issued per account) reaches only its account. The admin token is compared as
 * SHA-256 digests with timingSafeEqual (equal lengths: neither timing nor an early length mismatch tells
 * anything); scoped tokens by the registry, the same way against their stored hashes.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify';
import { HttpError } from '../errors.js';

/** Who presented a token: the admin, one account's scoped token, or the metrics scraper's token. */
export type Principal = { kind: 'admin' } | { kind: 'account'; accountId: string; tokenId: string } | { kind: 'metrics' };

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const ADMIN: Principal = Object.freeze({ kind: 'admin' });

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the token belongs to; set by the auth hook on every /api request. */
    principal: Principal | null;
  }
}

/**
 * SHA-256 of a presented token, for a constant-time comparison. crypto.hash (one shot, hex) costs a third
 * of createHash().update().digest() — paid by every request.
 */
export function tokenDigest(text: string): Buffer {
  return Buffer.from(hash('sha256', text, 'hex'), 'hex');
}

export interface AuthOptions {
  adminToken: string;
  /** Resolves a token that is not the admin token (undefined when it is not a valid one). */
  scoped?: (token: string) => Principal | undefined | Promise<Principal | undefined>;
  /** Called once a request's token was accepted (in the same hook: one hook less for every request). */
  accepted?: (request: FastifyRequest) => void;
}

/**
 * The onRequest hook, callback-style: an admin token is settled at once, without the promise and the
 * microtask turn an async hook costs every request; only a scoped token's lookup may wait.
 */
export function createAuthHook({ adminToken, scoped, accepted }: AuthOptions): onRequestHookHandler {
  if (!adminToken) throw new Error('createAuthHook: the API token must not be empty');
  const expected = tokenDigest(adminToken);
  const accept = (request: FastifyRequest, principal: Principal | undefined, done: HookHandlerDoneFunction): void => {
    if (!principal) return done(new HttpError(401, 'UNAUTHORIZED', 'Invalid API token'));
    request.principal = principal;
    accepted?.(request);
    done();
  };
  return (request, _reply, done) => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      return done(new HttpError(401, 'UNAUTHORIZED', 'Missing Authorization: Bearer <token> header'));
    }
    const match = BEARER.exec(header);
    if (!match) return done(new HttpError(401, 'UNAUTHORIZED', 'The Authorization header must be "Bearer <token>"'));
    const token = match[1]!;
    if (timingSafeEqual(tokenDigest(token), expected)) return accept(request, ADMIN, done);
    let principal: ReturnType<NonNullable<AuthOptions['scoped']>>;
    try {
      principal = scoped?.(token);
    } catch (err) {
      return done(err as Error);
    }
    if (principal instanceof Promise) principal.then((p) => accept(request, p, done)).catch(done);
    else accept(request, principal, done);
  };
}

/** Admin routes (creating, listing, deleting accounts; tokens): a scoped token gets 403. */
export function requireAdmin(request: FastifyRequest): void {
  if (request.principal?.kind !== 'admin') throw new HttpError(403, 'FORBIDDEN', 'This route needs the admin token');
}

/** Whether the request's principal may reach `accountId` (a scoped token only its own account). */
export function mayReach(request: FastifyRequest, accountId: string): boolean {
  const principal = request.principal;
  return principal?.kind === 'admin' || (principal?.kind === 'account' && principal.accountId === accountId);
}
