/**
 * Bearer tokens for the /api scope: the admin token (API_TOKEN / DATA_DIR/api_token) reaches everything;
 * a scoped token (`tgs_…`, issued per account) reaches only its account. The admin token is compared in
 * constant time (secretMatcher); scoped tokens by the registry, as SHA-256 digests against their stored hashes.
 */
import { timingSafeEqual } from 'node:crypto';
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
 * Whether a presented token is `secret`, in time that does not depend on where they differ: the candidate's
 * UTF-8 bytes are written into a zeroed buffer of the secret's length (one buffer, reused: this runs
 * synchronously) and compared with timingSafeEqual; only then is the length checked, so what a caller can
 * time is at most whether the lengths match. A third of the cost of hashing both sides (SHA-256, then the
 * digests compared), which every request paid.
 */
export function secretMatcher(secret: string): (candidate: string) => boolean {
  const expected = Buffer.from(secret, 'utf8');
  const scratch = Buffer.alloc(expected.length);
  return (candidate) => {
    scratch.fill(0);
    scratch.write(candidate, 'utf8');
    const sameBytes = timingSafeEqual(scratch, expected);
    return sameBytes && Buffer.byteLength(candidate, 'utf8') === expected.length;
  };
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
  const isAdminToken = secretMatcher(adminToken);
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
    if (isAdminToken(token)) return accept(request, ADMIN, done);
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
