/**
 * Route schemas compiled on first use. Fastify compiles every route's validators (ajv) and response
 * serializers (fast-json-stringify) while the app gets ready: ~250 ms of every start for this API's
 * routes (the account routes are mounted twice), all before the first request can be answered. Here
 * each compiled function is a stand-in that compiles on its first call, with Fastify's own compilers and
 * the same options; once the server listens, warmUp() compiles the rest a few at a time (between
 * requests), so no later request pays for it and a schema that does not compile is still said (logged)
 * moments after start.
 */
import { AjvCompiler } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type ValidateFunction = ((data: unknown) => unknown) & { errors?: unknown };
type RouteDefinition = { schema: object; method: string; url: string; httpPart?: string; httpStatus?: string };
type Serializer = (data: unknown) => string;

export class LazySchemas {
  /** Stand-ins not compiled yet, with the route each belongs to (for the log). */
  private readonly pending = new Map<() => unknown, RouteDefinition>();
  private warming = false;
  /**
   * One validator selector, as Fastify's default: contexts with the same external schemas and options share
   * one Ajv, which compiles a schema object once (the account routes are mounted twice).
   */
  private readonly validators = AjvCompiler();
  /** Serializers by options and schema object: the error schema of every route's 4xx and 5xx is compiled once. */
  private readonly serializers = new Map<string, WeakMap<object, Serializer>>();

  readonly compilersFactory: CompilersFactory = {
    buildValidator: (externalSchemas, ajvOptions) => {
      // The Ajv instance too (its formats and keywords: a few ms) is made by the first compile, not at start.
      let compile: ReturnType<typeof this.validators> | undefined;
      const compiler = () => (compile ??= this.validators(externalSchemas as never, ajvOptions as never));
      return ((route: RouteDefinition) => this.lazyValidator(route, () => compiler()(route as never) as ValidateFunction)) as never;
    },
    buildSerializer: (externalSchemas, serializerOptions) => {
      const compile = SerializerSelector()(externalSchemas, serializerOptions as never);
      const key = JSON.stringify([externalSchemas, serializerOptions]);
      let compiled = this.serializers.get(key);
      if (!compiled) this.serializers.set(key, (compiled = new WeakMap()));
      const shared = compiled;
      return ((route: RouteDefinition) =>
        this.lazySerializer(route, () => {
          let serializer = shared.get(route.schema);
          if (!serializer) shared.set(route.schema, (serializer = compile(route as never) as Serializer));
          return serializer;
        })) as never;
    },
  };

  /**
   * Compiles what is still pending, one function per turn of the event loop; a failure is logged. The
   * immediates are not unref'd: an unref'd one waits for the loop's next wake-up, which spread the warm-up
   * over seconds after start, where it slowed every step of whatever request came in then (a first
   * send-code); back to back it is done in a fraction of a second, a request still waiting at most one.
   */
  warmUp(log: FastifyBaseLogger): void {
    if (this.warming) return;
    this.warming = true;
    const next = (): void => {
      const entry = this.pending.entries().next();
      if (entry.done) {
        this.warming = false;
        return;
      }
      const [compile, route] = entry.value;
      this.pending.delete(compile);
      try {
        compile();
      } catch (err) {
        log.error({ err, method: route.method, route: route.url, part: route.httpPart ?? route.httpStatus }, 'A route schema does not compile');
      }
      setImmediate(next);
    };
    setImmediate(next);
  }

  private once<T>(route: RouteDefinition, compile: () => T): () => T {
    let compiled: T | undefined;
    const ensure = (): T => {
      if (compiled === undefined) {
        this.pending.delete(ensure);
        compiled = compile();
      }
      return compiled;
    };
    this.pending.set(ensure, route);
    return ensure;
  }

  private lazyValidator(route: RouteDefinition, compile: () => ValidateFunction): ValidateFunction {
    const ensure = this.once(route, compile);
    // Fastify reads `errors` off the function it called after a failed validation.
    const validate: ValidateFunction = (data) => {
      const real = ensure();
      const result = real(data);
      validate.errors = real.errors;
      return result;
    };
    return validate;
  }

  private lazySerializer(route: RouteDefinition, compile: () => Serializer): Serializer {
    const ensure = this.once(route, compile);
    return (data) => ensure()(data);
  }
}
