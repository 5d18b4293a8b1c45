/**
 * Rate limit of the login steps (send-code, resend-code, verify-code, verify-password), per client
 * address, shared by every account's login routes: one bucket per address for all of them. Addresses are
 * grouped as one host: all of 127.0.0.0/8 is one bucket, IPv6 by /64 (one host can hold a whole /64).
 * The per-account limit lives in the account itself (account/attempt-guard.ts).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isIP } from 'node:net';
import { HttpError } from '../errors.js';

export interface LoginRateLimit {
  max: number; // 0 = no limit
  windowMs: number;
}

export const DEFAULT_LOGIN_RATE_LIMIT: LoginRateLimit = { max: 10, windowMs: 60_000 };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route is a login step: counted by the login rate limit. */
    loginStep?: boolean;
  }
}

/** The bucket a client address counts against. */
export function addressBucket(address: string): string {
  const ip = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  if (isIP(ip) === 4) return ip.startsWith('127.') ? '127.0.0.0/8' : ip;
  if (isIP(ip) === 6) {
    if (ip === '::1') return '127.0.0.0/8';
    const groups = expandIPv6(ip);
    return `${groups.slice(0, 4).join(':')}::/64`;
  }
  return address;
}

function expandIPv6(ip: string): string[] {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
}

/**
 * Registers the limit on `scope`; it applies to the routes whose config says `loginStep: true`, except to
 * requests `exempt` says were counted already (forwarded by another instance of a cluster).
 */
export async function applyLoginRateLimit(scope: FastifyInstance, limit: LoginRateLimit, exempt?: (request: FastifyRequest) => boolean): Promise<void> {
  if (limit.max <= 0) return;
  await scope.register(rateLimit, {
    // Not a hook on every route (which would work out the address bucket and ask allowList on every
    // request): the limiter is added to the login steps only, below, sharing one store (one bucket per
    // address for all of them).
    global: false,
    max: limit.max,
    timeWindow: limit.windowMs,
    keyGenerator: (request: FastifyRequest) => addressBucket(request.ip),
    allowList: (request: FastifyRequest) => request.routeOptions.config?.loginStep !== true || exempt?.(request) === true,
    // The plugin has already set Retry-After; the error handler turns this into the JSON error shape.
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, 'RATE_LIMITED', `Too many login requests, retry in ${context.after}`),
  });
  const limiter = scope.rateLimit();
  scope.addHook('onRoute', (route) => {
    if (route.config?.loginStep !== true) return;
    const onRequest = route.onRequest;
    route.onRequest = onRequest === undefined ? [limiter] : [...[onRequest].flat(), limiter];
  });
}
