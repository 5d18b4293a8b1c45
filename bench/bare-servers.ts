/** Bare baselines run as their own processes: `tsx bench/bare-servers.ts http|fastify PORT`. */
import http from 'node:http';
import Fastify from 'fastify';

const [kind, portArg] = process.argv.slice(2);
const port = Number(portArg);
if (kind === 'http') {
  http.createServer((_req, res) => res.end('{"ok":true}')).listen(port, '127.0.0.1', () => console.log('ready'));
} else {
  const app = Fastify();
  app.get('/', async () => ({ hello: 'world' }));
  await app.listen({ port, host: '127.0.0.1' });
  console.log('ready');
}
