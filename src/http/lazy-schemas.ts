/**
 * Route schemas compiled on first use. Fastify compiles every route's validators (ajv) and response
 * serializers (fast-json-stringify) while the app gets ready: ~250 ms of every start for this API's
 * routes (the account routes are mounted twice), all before the first request can be answered. Here
 * each compiled function is a stand-in that compiles on its first call, with Fastify's own compilers and
 * the same options; once the server listens, warmUp() compiles the rest a few at a time (between
 * requests), so no later request pays for it and a schema that does not compile is still said (logged)
 * moments after start.
 *
 * Validators and serializers can come ready-made instead (the constructor's `source`): `npm run build`
 * generates every route's as code (scripts/compile-schemas.mjs, Fastify's standalone modes) and the service
 * restores each one on its first call. Ajv, fast-json-stringify and their compilers are then never loaded at
 * run time — compiling held ~2.5 MiB of an idle service's memory, however few schemas were compiled. One
 * not among them (a schema that depends on configuration) is compiled as before.
 */
import { createHash } from 'node:crypto';
import { AjvCompiler } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
export type ValidateFunction = ((data: unknown) => unknown) & { errors?: unknown };
export type RouteDefinition = { schema: object; method: string; url: string; httpPart?: string; httpStatus?: string };
export type Serializer = (data: unknown) => string;
type Pending = { route: RouteDefinition; readyMade?: () => boolean };
type ValidatorFactory = (externalSchemas: unknown, ajvOptions: unknown) => (route: RouteDefinition) => ValidateFunction;
type SerializerFactory = (externalSchemas: unknown, serializerOptions: unknown) => (route: RouteDefinition) => Serializer;

/** Generated functions, by key (validatorKey, serializerKey): whether there is one (known without loading it), and the function. */
export type ReadyMadeSchemas = { has(key: string): boolean; restore(key: string): ValidateFunction | Serializer };
/** Build time: compile with these factories (Fastify's standalone ones), telling `generated` each function's code. */
export type SchemaWriter = { generate: { validators: ValidatorFactory; serializers: SerializerFactory }; generated(key: string, route: RouteDefinition): void };
/** Where validators and serializers come from besides compiling them here. */
export type SchemaSource = ReadyMadeSchemas | SchemaWriter;

/**
 * What a route's validator depends on — the app's external schemas, Ajv's options, the part of the request
 * and the schema — as a file-name-safe key: the same at build time and at run time for the same code.
 */
export function validatorKey(externalSchemas: unknown, ajvOptions: unknown, route: Pick<RouteDefinition, 'schema' | 'httpPart'>): string {
  return keyOf([externalSchemas, ajvOptions, route.httpPart ?? null, route.schema]);
}

/** The same for a response serializer: the external schemas, fast-json-stringify's options and the schema. */
export function serializerKey(externalSchemas: unknown, serializerOptions: unknown, route: Pick<RouteDefinition, 'schema'>): string {
  return keyOf(['serializer', externalSchemas, serializerOptions ?? null, route.schema]);
}

function keyOf(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 24);
}

export class LazySchemas {
  /** Stand-ins not compiled yet, with the route each belongs to (for the log). */
  private readonly pending = new Map<() => unknown, Pending>();
  private warming = false;
  /**
   * One validator selector, as Fastify's default: contexts with the same external schemas and options share
   * one Ajv, which compiles a schema object once (the account routes are mounted twice). Made on first need.
   */
  private validators: ValidatorFactory | undefined;
  private serializerSelector: SerializerFactory | undefined;
  /** Serializers by options and schema object: the error schema of every route's 4xx and 5xx is compiled once. */
  private readonly serializers = new Map<string, WeakMap<object, Serializer>>();

  constructor(private readonly source?: SchemaSource) {}

  readonly compilersFactory: CompilersFactory = {
    buildValidator: (externalSchemas, ajvOptions) => {
      // The Ajv instance too (its formats and keywords: a few ms) is made by the first compile, not at start.
      let compile: ReturnType<ValidatorFactory> | undefined;
      const customOptions = (ajvOptions as { customOptions?: object } | undefined)?.customOptions ?? {};
      // (A copy: Fastify's standalone factory adds its code-generation option to what it is given.)
      const compiler = () => (compile ??= this.validatorFactory()(externalSchemas, { ...(ajvOptions as object), customOptions: { ...customOptions } }));
      return ((route: RouteDefinition) => {
        // The key is worked out when first needed (a hash of the schema: not on the way to the first answer).
        let known: string | undefined;
        const key = (): string => (known ??= validatorKey(externalSchemas, customOptions, route));
        const { make, readyMade } = this.fromSource(route, key, () => compiler()(route));
        return this.lazyValidator(route, make, readyMade);
      }) as never;
    },
    buildSerializer: (externalSchemas, serializerOptions) => {
      // (A copy: Fastify's standalone factory adds its code-generation option to what it is given.)
      let compile: ReturnType<SerializerFactory> | undefined;
      const compiler = () => (compile ??= this.serializerFactory()(externalSchemas, { ...(serializerOptions as object) }));
      const cacheKey = JSON.stringify([externalSchemas, serializerOptions]);
      let compiled = this.serializers.get(cacheKey);
      if (!compiled) this.serializers.set(cacheKey, (compiled = new WeakMap()));
      const shared = compiled;
      return ((route: RouteDefinition) => {
        let known: string | undefined;
        const key = (): string => (known ??= serializerKey(externalSchemas, serializerOptions, route));
        const { make, readyMade } = this.fromSource(route, key, () => compiler()(route));
        return this.lazySerializer(
          route,
          () => {
            let serializer = shared.get(route.schema);
            if (!serializer) shared.set(route.schema, (serializer = make()));
            return serializer;
          },
          readyMade,
        );
      }) as never;
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
      for (;;) {
        const entry = this.pending.entries().next();
        if (entry.done) {
          this.warming = false;
          return;
        }
        const [compile, { route, readyMade }] = entry.value;
        this.pending.delete(compile);
        if (readyMade?.()) continue; // loaded by its first call, not here
        try {
          compile();
        } catch (err) {
          log.error({ err, method: route.method, route: route.url, part: route.httpPart ?? route.httpStatus }, 'A route schema does not compile');
        }
        setImmediate(next);
        return;
      }
    };
    setImmediate(next);
  }

  /** The routes whose schemas are still to be compiled here (those no source had ready-made). */
  pendingRoutes(): RouteDefinition[] {
    return [...this.pending.values()].filter(({ readyMade }) => !readyMade?.()).map(({ route }) => route);
  }

  /** Compiles every stand-in still pending, now; the first failure is thrown (build time: nothing may fail). */
  compileAll(): void {
    for (const [compile] of [...this.pending]) compile();
  }

  /**
   * How a route's function is made: restored from the source when it has one ready-made (`readyMade` then says
   * so, without loading it), compiled here otherwise — at build time, its code handed to the source.
   */
  private fromSource<T extends ValidateFunction | Serializer>(route: RouteDefinition, key: () => string, compile: () => T): { make: () => T; readyMade?: () => boolean } {
    const source = this.source;
    if (source && 'restore' in source) {
      const readyMade = (): boolean => source.has(key());
      return { make: () => (readyMade() ? (source.restore(key()) as T) : compile()), readyMade };
    }
    return {
      make: () => {
        const made = compile();
        if (source) source.generated(key(), route);
        return made;
      },
    };
  }

  private validatorFactory(): ValidatorFactory {
    const source = this.source;
    return (this.validators ??= source && 'generate' in source ? source.generate.validators : (AjvCompiler() as unknown as ValidatorFactory));
  }

  private serializerFactory(): SerializerFactory {
    const source = this.source;
    return (this.serializerSelector ??= source && 'generate' in source ? source.generate.serializers : (SerializerSelector() as unknown as SerializerFactory));
  }

  /** `readyMade`: whether it needs no compiling (then warmUp() skips it, and only its first call loads it). */
  private once<T>(route: RouteDefinition, compile: () => T, readyMade?: () => boolean): () => T {
    let compiled: T | undefined;
    const ensure = (): T => {
      if (compiled === undefined) {
        this.pending.delete(ensure);
        compiled = compile();
      }
      return compiled;
    };
    this.pending.set(ensure, readyMade ? { route, readyMade } : { route });
    return ensure;
  }

  private lazyValidator(route: RouteDefinition, compile: () => ValidateFunction, readyMade?: () => boolean): ValidateFunction {
    const ensure = this.once(route, compile, readyMade);
    // Fastify reads `errors` off the function it called after a failed validation.
    const validate: ValidateFunction = (data) => {
      const real = ensure();
      const result = real(data);
      validate.errors = real.errors;
      return result;
    };
    return validate;
  }

  private lazySerializer(route: RouteDefinition, compile: () => Serializer, readyMade?: () => boolean): Serializer {
    const ensure = this.once(route, compile, readyMade);
    return (data) => ensure()(data);
  }
}
