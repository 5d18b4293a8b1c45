// Bare baselines, plain JavaScript run by plain node (no loader), as the service runs from dist/:
//   node bench/bare-servers.mjs http PORT              a bare node HTTP server
//   node bench/bare-servers.mjs fastify PORT           Fastify hello-world
//   node bench/bare-servers.mjs fastify-status PORT CONFIG
//     the fair baseline for GET status: Fastify with the same bearer check (constant-time), the same
//     route, body and response schema as the service (CONFIG: a JSON file {token, path, schema, body}).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { Buffer } from 'node:buffer';
import process from 'node:process';
import Fastify from 'fastify';

const [kind, portArg, configFile] = process.argv.slice(2);
const port = Number(portArg);
if (kind === 'http') {
  http.createServer((_req, res) => res.end('{"ok":true}')).listen(port, '127.0.0.1');
} else if (kind === 'fastify') {
  const app = Fastify();
  app.get('/', async () => ({ hello: 'world' }));
  await app.listen({ port, host: '127.0.0.1' });
} else {
  const { token, path, schema, body } = JSON.parse(readFileSync(configFile, 'utf8'));
  const expected = Buffer.from(token, 'utf8');
  const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
  const app = Fastify();
  app.addHook('onRequest', async (request, reply) => {
    const match = BEARER.exec(request.headers.authorization ?? '');
    const candidate = Buffer.alloc(expected.length);
    if (match) candidate.write(match[1], 'utf8');
    if (!match || !timingSafeEqual(candidate, expected) || Buffer.byteLength(match[1]) !== expected.length) {
      return reply.code(401).send({ error: { code: 'UNAUTHORIZED', message: 'Invalid API token' } });
    }
  });
  app.get('/', async () => ({ ok: true }));
  app.get(path, { schema: { response: { 200: schema } } }, async () => body);
  await app.listen({ port, host: '127.0.0.1' });
}
