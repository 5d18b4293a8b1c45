/**
 * The TL schemas the codec follows. The native one is @mtcute/core's layer schema (tl/api-schema.json:
 * every API class and method with its arguments); other layers come from tl/layer-schemas.ts. Each
 * is merged with mtcute's MTProto service schema (tl/mtp-schema.json, names prefixed `mt_`, the same in
 * every layer) and the few service constructors neither lists. Field names are converted the way
 * mtcute names them (snake_case → camelCase), so parsed objects can go straight back into mtcute's writer.
 */
import { createRequire } from 'node:module';

/** How one argument is encoded. */
export type TlArgKind =
  | 'flags' // `#`: a uint32 bit field, not part of the object
  | 'true' // flag-only boolean
  | 'int'
  | 'long'
  | 'int53'
  | 'double'
  | 'int128'
  | 'int256'
  | 'bytes'
  | 'string'
  | 'Bool'
  | 'object' // boxed: constructor id + body
  | 'bare'; // a bare constructor (no id), see bareId

export interface TlArg {
  /** mtcute's field name (camelCase). */
  name: string;
  kind: TlArgKind;
  /** Boxed `Vector<T>` (with the 0x1cb5c415 id), or a bare `vector<T>` when bareVector. */
  vector: boolean;
  bareVector: boolean;
  /** For kind 'bare': constructor id of the element. */
  bareId?: number;
  /** Conditional field: name of the flags field and the bit. */
  flagsField?: string;
  flagBit?: number;
  /** The TL type as the schema writes it, without vector or flag modifiers (`User`, `long`, `!X`). */
  type: string;
}

export interface TlConstructor {
  id: number;
  /** mtcute's name: `auth.sendCode`, `inputUserSelf`, `mt_ping`, … */
  name: string;
  kind: 'class' | 'method';
  /** The type a class belongs to, or the type a method returns (`User`, `auth.SentCode`, `Vector<User>`, `X`). */
  type: string;
  args: TlArg[];
}

/** One argument as mtcute's schema JSON (and tl-text.ts) lays it out. */
export interface RawArg {
  name: string;
  type: string;
  typeModifiers?: { predicate?: string; isVector?: boolean; isBareVector?: boolean; isBareType?: boolean; constructorId?: number };
}
/** One constructor or method as mtcute's schema JSON (and tl-text.ts) lays it out. */
export interface RawEntry {
  kind: 'class' | 'method';
  name: string;
  id: number;
  type: string;
  arguments: RawArg[];
}

/** p_q_inner_data's fields (the _temp variant adds expires_in). */
const P_Q_INNER_DATA_ARGS: RawArg[] = [
  { name: 'pq', type: 'bytes' },
  { name: 'p', type: 'bytes' },
  { name: 'q', type: 'bytes' },
  { name: 'nonce', type: 'int128' },
  { name: 'server_nonce', type: 'int128' },
  { name: 'new_nonce', type: 'int256' },
];

/** Service constructors clients may send that mtcute's schema files do not list (core.telegram.org/mtproto/auth_key). */
const EXTRA_SERVICE_ENTRIES: RawEntry[] = [
  { kind: 'method', name: 'mt_req_pq', id: 0x60469778, type: 'ResPQ', arguments: [{ name: 'nonce', type: 'int128' }] },
  {
    kind: 'class',
    name: 'mt_p_q_inner_data',
    id: 0x83c95aec,
    type: 'P_Q_inner_data',
    arguments: P_Q_INNER_DATA_ARGS,
  },
  {
    kind: 'class',
    name: 'mt_p_q_inner_data_temp',
    id: 0x3c6a84d4,
    type: 'P_Q_inner_data',
    arguments: [...P_Q_INNER_DATA_ARGS, { name: 'expires_in', type: 'int' }],
  },
  {
    kind: 'class',
    name: 'mt_server_DH_params_fail',
    id: 0x79cb045d,
    type: 'Server_DH_Params',
    arguments: [
      { name: 'nonce', type: 'int128' },
      { name: 'server_nonce', type: 'int128' },
      { name: 'new_nonce_hash', type: 'int128' },
    ],
  },
];

/** mtcute's field naming: snake_case → camelCase (`srp_B` → `srpB`, `g_a` → `gA`). */
export function tlFieldName(name: string): string {
  return name.replace(/_([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

const PRIMITIVE_KINDS: Record<string, TlArgKind> = {
  '#': 'flags',
  true: 'true',
  int: 'int',
  long: 'long',
  int53: 'int53',
  double: 'double',
  int128: 'int128',
  int256: 'int256',
  bytes: 'bytes',
  string: 'string',
  Bool: 'Bool',
};

function compileArg(raw: RawArg): TlArg {
  const mods = raw.typeModifiers ?? {};
  let kind: TlArgKind = PRIMITIVE_KINDS[raw.type] ?? 'object';
  const arg: TlArg = {
    name: tlFieldName(raw.name),
    kind,
    vector: Boolean(mods.isVector || mods.isBareVector),
    bareVector: Boolean(mods.isBareVector),
    type: raw.type,
  };
  if (mods.isBareType && kind === 'object') {
    if (mods.constructorId === undefined) throw new Error(`bare type without constructor id: ${raw.type}`);
    kind = arg.kind = 'bare';
    arg.bareId = mods.constructorId;
  }
  if (mods.predicate) {
    const m = /^(\w+)\.(\d+)$/.exec(mods.predicate);
    if (!m) throw new Error(`bad predicate ${mods.predicate}`);
    arg.flagsField = tlFieldName(m[1]!);
    arg.flagBit = Number(m[2]);
  }
  return arg;
}

export interface TlSchema {
  /** The API layer the schema describes. */
  layer: number;
  byId: Map<number, TlConstructor>;
  byName: Map<string, TlConstructor>;
  /** API classes by the type they belong to (`User` → user, userEmpty), for defaults and substitutes. */
  classesByType: Map<string, TlConstructor[]>;
}

let serviceEntries: RawEntry[] | undefined;

/** mtcute's MTProto service schema plus the extra service constructors: the same in every layer. */
function mtprotoEntries(): RawEntry[] {
  if (!serviceEntries) {
    const require = createRequire(import.meta.url);
    serviceEntries = [...(require('@mtcute/core/tl/mtp-schema.json') as RawEntry[]), ...EXTRA_SERVICE_ENTRIES];
  }
  return serviceEntries;
}

/** Indexes one layer's API entries together with the MTProto service schema (service entries win on an id clash). */
export function compileTlSchema(layer: number, apiEntries: readonly RawEntry[]): TlSchema {
  const byId = new Map<number, TlConstructor>();
  const byName = new Map<string, TlConstructor>();
  const classesByType = new Map<string, TlConstructor[]>();
  const service = mtprotoEntries();
  for (const entry of [...service, ...apiEntries]) {
    if (entry.name.startsWith('mtcute.')) continue; // mtcute's internal placeholders, never on the wire
    const ctor: TlConstructor = { id: entry.id >>> 0, name: entry.name, kind: entry.kind, type: entry.type, args: entry.arguments.map(compileArg) };
    if (byId.has(ctor.id) || byName.has(ctor.name)) continue; // first definition wins (service schema before API)
    byId.set(ctor.id, ctor);
    byName.set(ctor.name, ctor);
    if (ctor.kind === 'class' && !ctor.name.startsWith('mt_')) {
      const list = classesByType.get(ctor.type) ?? [];
      list.push(ctor);
      classesByType.set(ctor.type, list);
    }
  }
  return { layer, byId, byName, classesByType };
}

let cached: TlSchema | undefined;

/** The native schema (the layer @mtcute/core speaks), loaded and indexed once (≈2 MB of JSON, a few tens of ms). */
export function tlSchema(): TlSchema {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const api = require('@mtcute/core/tl/api-schema.json') as { l: number; e: RawEntry[] };
  cached = compileTlSchema(api.l, api.e);
  return cached;
}

/** The native API layer (227 for @mtcute/core 0.30.x): what RPC handlers read and produce. */
export function tlLayer(): number {
  return tlSchema().layer;
}
