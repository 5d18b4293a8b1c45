/**
 * The web console: GET / (its page) and GET /console/:file (its scripts, styles and icon), served from the
 * process's memory (console/assets.ts read them at start from the repository's console/ folder): nothing
 * built and no CDN. No token is needed to load it (it holds no data); it asks for the API token itself and sends it
 * only in the Authorization header of its API calls.
 *
 * Every answer carries a strict Content-Security-Policy (scripts and styles only from this origin, none
 * inline; Trusted Types; images also from blob: — the QR code is shown from the API's SVG; no framing)
 * and X-Frame-Options: DENY against clickjacking.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ConsoleAsset, ConsoleAssets } from '../../console/assets.js';
import { HttpError } from '../errors.js';

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  'trusted-types',
].join('; ');

function send(reply: FastifyReply, asset: ConsoleAsset): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cross-origin-resource-policy', 'same-origin')
    .type(asset.type)
    .send(asset.body);
}

export async function consoleRoutes(app: FastifyInstance, { assets }: { assets: ConsoleAssets }): Promise<void> {
  const page = assets.get('index.html')!;
  const common = { tags: ['service'], security: [] };
  app.get(
    '/',
    { schema: { ...common, summary: 'The web console (no token needed to load it; it asks for the API token)', response: { 200: { type: 'string', description: 'HTML' } } } },
    async (request, reply) => {
      // The asterisk request-target ("GET * HTTP/1.1") is routed here too; it asks for no page.
      if (!request.url.startsWith('/')) throw new HttpError(404, 'NOT_FOUND', 'Not found');
      return send(reply, page);
    },
  );
  app.get<{ Params: { file: string } }>(
    '/console/:file',
    {
      schema: {
        ...common,
        summary: "The web console's scripts, styles and icon",
        params: {
          type: 'object',
          properties: { file: { type: 'string', maxLength: 64, description: `One of: ${[...assets.keys()].join(', ')}` } },
          required: ['file'],
        },
        response: { 200: { type: 'string' } },
      },
    },
    async (request, reply) => {
      const asset = assets.get(request.params.file);
      if (!asset) throw new HttpError(404, 'NOT_FOUND', 'No such file of the web console');
      return send(reply, asset);
    },
  );
}
