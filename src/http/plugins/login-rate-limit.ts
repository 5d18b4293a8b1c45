/**
 * Rate limit for the login routes: one bucket per client IP shared by every route registered in the
 * scope this is applied to (send-code, resend-code, verify-code, verify-password).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../errors.js';

export interface LoginRateLimit {
  max: number; // 0 = no limit
  windowMs: number;
}

export const DEFAULT_LOGIN_RATE_LIMIT: LoginRateLimit = { max: 10, windowMs: 60_000 };

export async function applyLoginRateLimit(scope: FastifyInstance, limit: LoginRateLimit): Promise<void> {
  if (limit.max <= 0) return;
  await scope.register(rateLimit, {
    global: true,
    max: limit.max,
    timeWindow: limit.windowMs,
    // The plugin has already set Retry-After; the error handler turns this into the JSON error shape.
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, 'RATE_LIMITED', `Too many login requests, retry in ${context.after}`),
  });
}
