/**
 * Converts decoded TL objects between two layers by constructor and field *name* (stable across layers,
 * unlike ids and field sets): requests from a client's layer to the native one the RPC handlers read,
 * answers from the native layer to the client's.
 *
 * For each object, the target layer's constructor of the same name decides the fields: a field the
 * target lacks is dropped, an optional field the source lacks stays unset, and a required field the
 * source lacks (or has with a type that cannot be carried over) gets a default: REQUIRED_FIELD_DEFAULTS
 * where zero would be wrong, else the zero of its type, an empty vector, or the target type's
 * field-less constructor (`…Empty`). A value whose type changed but whose meaning did not is carried
 * over (adaptValue: string ↔ TextWithEntities, long ↔ StarsAmount; int ↔ long ↔ int53 always).
 * A class the target layer does not have is replaced by such an
 * empty constructor of the same type when there is one; otherwise the conversion fails with
 * LayerConversionError, which the caller answers as an rpc_error. A *method* the target layer lacks is
 * left as it is, so the RPC layer can answer it by name.
 */
import Long from 'long';
import type { TlObject } from '../types.js';
import type { TlArg, TlConstructor, TlSchema } from './schema.js';

/** The target layer has no counterpart for a class (and no empty constructor of its type to stand in). */
export class LayerConversionError extends Error {
  override readonly name = 'LayerConversionError';

  constructor(
    readonly constructorName: string,
    readonly targetLayer: number,
  ) {
    super(`layer ${targetLayer} has no ${constructorName}`);
  }

  /** Telegram-style error message naming what is missing, e.g. LAYER_158_LACKS_MESSAGE_MEDIA_PAID_MEDIA. */
  get rpcErrorMessage(): string {
    return `LAYER_${this.targetLayer}_LACKS_${tlNameAsErrorWord(this.constructorName)}`;
  }
}

/** `messages.getAllChats` → MESSAGES_GET_ALL_CHATS (rpc_error messages are upper case, digits and `_`). */
export function tlNameAsErrorWord(name: string): string {
  return name
    .replace(/[^a-zA-Z0-9]+/g, '_')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase();
}

/**
 * Values for required fields that an older layer has and the native one lacks, where the zero of the
 * type would be wrong. Keyed `constructor.field`; checked by the layer-difference table in the tests.
 */
export const REQUIRED_FIELD_DEFAULTS: Readonly<Record<string, () => unknown>> = {};

const MISMATCH = Symbol('mismatch');
type Converted = unknown | typeof MISMATCH;

/** Depth of the empty objects built as defaults (they are shallow; the cap stops a cyclic type). */
const MAX_DEFAULT_DEPTH = 6;

const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

class LayerConverter {
  constructor(
    private readonly from: TlSchema,
    private readonly to: TlSchema,
  ) {}

  value(v: unknown): unknown {
    if (Array.isArray(v)) return v.map((item) => this.value(item));
    if (isTlObject(v)) return this.object(v);
    return v;
  }

  object(obj: TlObject): TlObject {
    if (obj._.startsWith('mt_')) return obj; // the MTProto service schema is the same in every layer
    const target = this.to.byName.get(obj._);
    if (target) return this.fill(target, obj);
    const source = this.from.byName.get(obj._);
    if (source?.kind === 'method') return obj;
    const standIn = source ? this.emptyConstructor(source.type, true) : undefined;
    if (!standIn) throw new LayerConversionError(obj._, this.to.layer);
    return this.fill(standIn, obj);
  }

  private fill(target: TlConstructor, obj: TlObject, depth = 0): TlObject {
    const out: TlObject = { _: target.name };
    for (const arg of target.args) {
      if (arg.kind === 'flags') continue;
      const v = obj[arg.name];
      const converted = v === undefined || v === null ? MISMATCH : this.coerce(v, arg);
      if (converted !== MISMATCH) out[arg.name] = converted;
      else if (arg.flagsField === undefined) out[arg.name] = this.defaultValue(target, arg, depth);
      else if (arg.kind === 'true' && !arg.vector) out[arg.name] = false;
    }
    return out;
  }

  private coerce(v: unknown, arg: TlArg): Converted {
    if (!arg.vector) return this.scalar(v, arg);
    if (!Array.isArray(v)) return MISMATCH;
    const out: unknown[] = [];
    for (const item of v) {
      const c = this.scalar(item, arg);
      if (c === MISMATCH) return MISMATCH;
      out.push(c);
    }
    return out;
  }

  private scalar(v: unknown, arg: TlArg): Converted {
    const kind = arg.kind;
    const adapted = adaptValue(v, arg);
    if (adapted !== undefined) return this.scalar(adapted, arg);
    switch (kind) {
      case 'int':
        if (typeof v === 'number') return v;
        if (Long.isLong(v) && (v as Long).toInt() === (v as Long).toNumber()) return (v as Long).toInt();
        return MISMATCH;
      case 'long':
        if (Long.isLong(v)) return v;
        return typeof v === 'number' && Number.isSafeInteger(v) ? Long.fromNumber(v) : MISMATCH;
      case 'int53':
        if (typeof v === 'number') return v;
        return Long.isLong(v) ? (v as Long).toNumber() : MISMATCH;
      case 'double':
        return typeof v === 'number' ? v : MISMATCH;
      case 'int128':
      case 'int256':
        return v instanceof Uint8Array && v.length === (kind === 'int128' ? 16 : 32) ? v : MISMATCH;
      case 'bytes':
        if (v instanceof Uint8Array) return v;
        return typeof v === 'string' ? utf8Encoder.encode(v) : MISMATCH;
      case 'string':
        if (typeof v === 'string') return v;
        return v instanceof Uint8Array ? utf8Decoder.decode(v) : MISMATCH;
      case 'Bool':
      case 'true':
        return typeof v === 'boolean' ? v : MISMATCH;
      case 'object':
      case 'bare':
        return isTlObject(v) ? this.object(v) : MISMATCH;
      case 'flags':
        return MISMATCH;
    }
  }

  private defaultValue(ctor: TlConstructor, arg: TlArg, depth: number): unknown {
    const key = `${ctor.name}.${arg.name}`;
    const preset = REQUIRED_FIELD_DEFAULTS[key];
    if (preset) return preset();
    if (arg.vector) return [];
    switch (arg.kind) {
      case 'int':
      case 'int53':
      case 'double':
        return 0;
      case 'long':
        return Long.ZERO;
      case 'int128':
        return new Uint8Array(16);
      case 'int256':
        return new Uint8Array(32);
      case 'bytes':
        return new Uint8Array(0);
      case 'string':
        return '';
      case 'Bool':
        return false;
      case 'true':
        return true;
      case 'object':
      case 'bare': {
        const empty = depth < MAX_DEFAULT_DEPTH ? this.emptyConstructor(arg.type) : undefined;
        if (!empty) throw new LayerConversionError(`${ctor.name}.${arg.name}`, this.to.layer);
        return this.fill(empty, { _: empty.name }, depth + 1);
      }
      case 'flags':
        return 0;
    }
  }

  /**
   * The target layer's simplest constructor of `type`: an `…Empty` one first, then (unless `emptyOnly`)
   * the one with the fewest required fields. A class that stands in for a missing one must be an
   * `…Empty`: any other sibling would say something false (another kind of peer, of media…).
   */
  private emptyConstructor(type: string, emptyOnly = false): TlConstructor | undefined {
    const candidates = this.to.classesByType.get(type)?.filter((c) => !emptyOnly || c.name.endsWith('Empty'));
    if (!candidates?.length) return undefined;
    const required = (c: TlConstructor) => c.args.filter((a) => a.kind !== 'flags' && a.flagsField === undefined).length;
    return [...candidates].sort((a, b) => Number(!a.name.endsWith('Empty')) - Number(!b.name.endsWith('Empty')) || required(a) - required(b))[0];
  }
}

/**
 * Fields whose type changed between layers while the value stayed the same: a plain string that became
 * TextWithEntities (poll answers, folder titles) and a long that became StarsAmount (star balances).
 * Returns the value in the shape `arg` wants, or undefined when no adapter applies.
 */
function adaptValue(v: unknown, arg: TlArg): unknown {
  if (arg.kind === 'string' && isTlObject(v) && v._ === 'textWithEntities') return v.text;
  if (arg.kind === 'long' && isTlObject(v) && v._ === 'starsAmount') return v.amount;
  if (arg.kind === 'object' && arg.type === 'TextWithEntities' && typeof v === 'string') return { _: 'textWithEntities', text: v, entities: [] };
  if (arg.kind === 'object' && arg.type === 'StarsAmount' && Long.isLong(v)) return { _: 'starsAmount', amount: v, nanos: 0 };
  return undefined;
}

function isTlObject(v: unknown): v is TlObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as TlObject)._ === 'string';
}

/**
 * `value` (a TL object, a vector of them, or a primitive) as it reads in `to`'s layer, given that it
 * was decoded in (or built for) `from`'s. Throws LayerConversionError (see the module comment).
 */
export function convertBetweenLayers<T>(value: T, from: TlSchema, to: TlSchema): T {
  if (from === to) return value;
  return new LayerConverter(from, to).value(value) as T;
}
