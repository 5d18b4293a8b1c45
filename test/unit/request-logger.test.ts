/**
 * The per-request logger (src/http/request-logger.ts): made only when a line is written at an enabled
 * level, every line with its reqId; logsAt() says whether a level is written, so a line's fields need
 * not be gathered for nothing (the debug request line of every request).
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyRequestLoggerFactory, logsAt } from '../../src/http/request-logger.js';

function logger(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const root = pino({ level }, sink);
  let children = 0;
  const child = root.child.bind(root);
  root.child = ((...args: Parameters<typeof child>) => {
    children++;
    return child(...args);
  }) as typeof root.child;
  return { root, lines, children: () => children };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('the per-request logger', () => {
  it('says which levels it writes, makes no child until a line is written, and every line carries the reqId', async () => {
    const { root, lines, children } = logger('info');
    const log = lazyRequestLoggerFactory(root, { reqId: 'req-1' }, {});
    expect(logsAt(log, 'debug')).toBe(false);
    expect(logsAt(log, 'info')).toBe(true);
    log.debug({ x: 1 }, 'not written');
    expect(children()).toBe(0);
    log.info({ x: 2 }, 'written');
    await settle();
    expect(children()).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ reqId: 'req-1', x: 2, msg: 'written' })]);
    expect(logsAt(log, 'debug')).toBe(false);
    expect(logsAt(log, 'warn')).toBe(true);
  });

  it('at debug, debug lines are written (and said to be)', async () => {
    const { root, lines } = logger('debug');
    const log = lazyRequestLoggerFactory(root, { reqId: 'req-2' }, {});
    expect(logsAt(log, 'debug')).toBe(true);
    expect(logsAt(log, 'trace')).toBe(false);
    log.debug({ route: '/x' }, 'HTTP request');
    await settle();
    expect(lines).toEqual([expect.objectContaining({ reqId: 'req-2', route: '/x', msg: 'HTTP request' })]);
  });

  it('a logger that cannot say is taken to write everything', () => {
    const bare = { info() {}, error() {}, debug() {}, fatal() {}, warn() {}, trace() {}, silent() {}, child: () => bare, level: 'info' };
    expect(logsAt(bare, 'debug')).toBe(true);
  });
});
