// Bare baselines, plain JavaScript run by plain node (no loader), as the service runs from dist/:
//   node bench/bare-servers.mjs http|fastify PORT
import http from 'node:http';
import process from 'node:process';
import Fastify from 'fastify';

const [kind, portArg] = process.argv.slice(2);
const port = Number(portArg);
if (kind === 'http') {
  http.createServer((_req, res) => res.end('{"ok":true}')).listen(port, '127.0.0.1');
} else {
  const app = Fastify();
  app.get('/', async () => ({ hello: 'world' }));
  await app.listen({ port, host: '127.0.0.1' });
}
