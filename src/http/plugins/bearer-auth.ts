/**
 * Bearer-token check for the /api scope. The presented token and the expected one are both hashed with
 * SHA-256 and compared with timingSafeEqual: equal-length inputs, so neither the comparison time nor an
 * early length mismatch tells an attacker anything about the token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from '../errors.js';

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export function createBearerAuthHook(expectedToken: string): (request: FastifyRequest) => Promise<void> {
  if (!expectedToken) throw new Error('createBearerAuthHook: the API token must not be empty');
  const expected = digest(expectedToken);
  return async (request) => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      throw new HttpError(401, 'UNAUTHORIZED', 'Missing Authorization: Bearer <token> header');
    }
    const match = BEARER.exec(header);
    if (!match) throw new HttpError(401, 'UNAUTHORIZED', 'The Authorization header must be "Bearer <token>"');
    if (!timingSafeEqual(digest(match[1]!), expected)) throw new HttpError(401, 'UNAUTHORIZED', 'Invalid API token');
  };
}
