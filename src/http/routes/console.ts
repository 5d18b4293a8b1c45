/**
 * The web console: GET / (its page) and GET /console/:file (its scripts, styles and icon), served from the
 * process — plain files of the repository's console/ folder, read once at start, nothing built and no
 * CDN. No token is needed to load it (it holds no data); it asks for the API token itself and sends it
 * only in the Authorization header of its API calls.
 *
 * Every answer carries a strict Content-Security-Policy (scripts and styles only from this origin, none
 * inline; Trusted Types; images also from blob: — the QR code is shown from the API's SVG; no framing)
 * and X-Frame-Options: DENY against clickjacking.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { HttpError } from '../errors.js';

/** console/ at the repository root: the same distance from src/http/routes and dist/http/routes. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));

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

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  type: string;
  body: Buffer;
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir).sort()) {
    const type = TYPES[path.extname(name)];
    if (type && /^[a-z0-9][a-z0-9.-]*$/.test(name)) assets.set(name, { type, body: readFileSync(path.join(dir, name)) });
  }
  if (!assets.has('index.html')) throw new Error(`the web console is missing: no index.html in ${dir}`);
  return assets;
}

function send(reply: FastifyReply, asset: Asset): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cross-origin-resource-policy', 'same-origin')
    .type(asset.type)
    .send(asset.body);
}

export async function consoleRoutes(app: FastifyInstance, opts: { dir?: string } = {}): Promise<void> {
  const assets = loadAssets(opts.dir ?? CONSOLE_DIR);
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
