/**
 * The stand-ins scripts/bundle.mjs puts in the bundle for modules that dependencies require as they load but the
 * service seldom calls (scripts/deferred/): nothing of the real module is loaded until it is used, then every
 * call, `new` and property goes to the real one — and what each stand-in forwards is what the installed module has.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/service-process.js';

const DEFERRED = path.join(REPO_ROOT, 'scripts', 'deferred');
const requireHere = createRequire(path.join(DEFERRED, 'defer.cjs'));
type Deferred = (load: () => unknown, shape?: { functions?: string[]; properties?: string[] }) => any; // eslint-disable-line @typescript-eslint/no-explicit-any
const deferred = requireHere('./defer.cjs') as Deferred;

describe('a deferred module', () => {
  it('is required on first use only, once, and then forwards calls, construction and properties', () => {
    let loads = 0;
    class Real {
      constructor(readonly value: number) {}
      static twice(x: number) {
        return 2 * x;
      }
    }
    const realModule = Object.assign(function realFn(this: unknown, x: number) {
      return { x, self: this };
    }, { Real, twice: Real.twice, answer: 42 });
    const standIn = deferred(() => (loads++, realModule), { functions: ['Real', 'twice'], properties: ['answer'] });
    const { twice } = standIn; // read while a dependency loads: nothing is required yet
    expect(loads).toBe(0);
    expect(twice(21)).toBe(42);
    expect(loads).toBe(1);
    const made = new standIn.Real(7);
    expect(made).toBeInstanceOf(Real);
    expect(made.value).toBe(7);
    const context = { me: true };
    expect(standIn.call(context, 5)).toEqual({ x: 5, self: context });
    expect(standIn.answer).toBe(42);
    expect(loads).toBe(1);
  });

  it('passes what the real module throws', () => {
    const standIn = deferred(() => {
      throw new Error('not installed');
    });
    expect(() => standIn()).toThrow('not installed');
  });
});

/** Each stand-in, the module it stands for, and what it forwards. */
const STAND_INS = [
  { file: 'ajv-compiler.cjs', real: '@fastify/ajv-compiler', functions: ['default', 'AjvCompiler', 'StandaloneValidator'], properties: ['AjvReference'] },
  { file: 'fast-json-stringify-compiler.cjs', real: '@fastify/fast-json-stringify-compiler', functions: ['default', 'SerializerSelector', 'StandaloneSerializer'], properties: [] },
  { file: 'opentelemetry-api.cjs', real: '@opentelemetry/api', functions: [], properties: ['trace', 'context'] },
  { file: 'ip-address.cjs', real: 'ip-address', functions: ['Address6'], properties: [] },
  { file: 'proxy-addr.cjs', real: '@fastify/proxy-addr', functions: ['default', 'proxyaddr', 'all', 'compile'], properties: [] },
  { file: 'tdigest.cjs', real: 'tdigest', functions: ['TDigest', 'Digest'], properties: [] },
];

describe.each(STAND_INS)('the stand-in $file', ({ file, real, functions, properties }) => {
  it(`forwards to ${real}, which has what it forwards, and loads it only when used`, () => {
    const realPath = requireHere.resolve(real);
    delete requireHere.cache[realPath];
    const standIn = requireHere(`./${file}`) as Record<string, unknown>;
    expect(requireHere.cache[realPath]).toBeUndefined();
    const realModule = requireHere(real) as Record<string, unknown>;
    for (const name of functions) expect(typeof realModule[name], `${real}.${name}`).toBe('function');
    for (const name of properties) {
      expect(realModule[name], `${real}.${name}`).toBeDefined();
      expect(standIn[name]).toBe(realModule[name]);
    }
  });
});

describe('the stand-ins, used as the service uses them', () => {
  it('Fastify’s validator compiler compiles and validates through Ajv', () => {
    const { AjvCompiler } = requireHere('./ajv-compiler.cjs') as { AjvCompiler: () => (...args: unknown[]) => (route: object) => (data: unknown) => boolean };
    const compile = AjvCompiler()({}, { customOptions: {} });
    const validate = compile({ schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }, method: 'POST', url: '/x', httpPart: 'body' });
    expect(validate({ n: 1 })).toBe(true);
    expect(validate({ n: 'one' })).toBe(false);
  });

  it('Fastify’s serializer compiler compiles a serializer through fast-json-stringify', () => {
    const { SerializerSelector } = requireHere('./fast-json-stringify-compiler.cjs') as { SerializerSelector: () => (...args: unknown[]) => (route: object) => (data: unknown) => string };
    const serialize = SerializerSelector()({}, {})({ schema: { type: 'object', properties: { n: { type: 'integer' } } }, method: 'GET', url: '/x', httpStatus: '200' });
    expect(serialize({ n: 1, hidden: true })).toBe('{"n":1}');
  });

  it('@fastify/rate-limit’s IPv6 grouping constructs ip-address’s Address6 through it', () => {
    const { Address6 } = requireHere('./ip-address.cjs') as { Address6: new (address: string) => { isMapped4(): boolean; correctForm(): string; startAddress(): { correctForm(): string } } };
    const address = new Address6('2001:DB8:0:0:1::1');
    expect(address.isMapped4()).toBe(false);
    expect(address.correctForm()).toBe('2001:db8::1:0:0:1');
    expect(new Address6('2001:db8:aaaa:bbbb:1::1/56').startAddress().correctForm()).toBe('2001:db8:aaaa:bb00::');
    expect(new Address6('::ffff:10.0.0.1').isMapped4()).toBe(true);
  });

  it('Fastify’s trusted-proxy address check compiles and answers through @fastify/proxy-addr', () => {
    const proxyAddr = requireHere('./proxy-addr.cjs') as ((req: object, trust: unknown) => string) & { compile(v: string[]): unknown; all(req: object, trust: unknown): string[] };
    const trust = proxyAddr.compile(['127.0.0.1']);
    const req = { socket: { remoteAddress: '127.0.0.1' }, headers: { 'x-forwarded-for': '203.0.113.9' } };
    expect(proxyAddr(req, trust)).toBe('203.0.113.9');
    expect(proxyAddr.all(req, trust)).toEqual(['127.0.0.1', '203.0.113.9']);
  });

  it('prom-client’s quantiles are computed through tdigest', () => {
    const { TDigest } = requireHere('./tdigest.cjs') as { TDigest: new () => { push(x: number): void; percentile(p: number): number } };
    const digest = new TDigest();
    for (let i = 1; i <= 100; i++) digest.push(i);
    expect(digest.percentile(0.5)).toBeCloseTo(50.5, 0);
  });

  it('OpenTelemetry answers prom-client’s question (no active span)', () => {
    const otel = requireHere('./opentelemetry-api.cjs') as { trace: { getSpan(c: unknown): unknown }; context: { active(): unknown } };
    expect(otel.trace.getSpan(otel.context.active())).toBeUndefined();
  });
});
