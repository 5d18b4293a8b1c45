/**
 * The TL schema the reader follows: @mtcute/core's layer schema (tl/api-schema.json: every API class
 * and method with its arguments) plus its MTProto service schema (tl/mtp-schema.json, names prefixed
 * `mt_`), plus the few service constructors neither lists. Field names are converted the way mtcute
 * names them (snake_case → camelCase), so parsed objects can go straight back into mtcute's writer.
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
}

export interface TlConstructor {
  id: number;
  /** mtcute's name: `auth.sendCode`, `inputUserSelf`, `mt_ping`, … */
  name: string;
  kind: 'class' | 'method';
  args: TlArg[];
}

interface RawArg {
  name: string;
  type: string;
  typeModifiers?: { predicate?: string; isVector?: boolean; isBareVector?: boolean; isBareType?: boolean; constructorId?: number };
}
interface RawEntry {
  kind: 'class' | 'method';
  name: string;
  id: number;
  arguments: RawArg[];
}

/** Service constructors clients may send that mtcute's schema files do not list (core.telegram.org/mtproto/auth_key). */
const EXTRA_SERVICE_ENTRIES: RawEntry[] = [
  { kind: 'method', name: 'mt_req_pq', id: 0x60469778, arguments: [{ name: 'nonce', type: 'int128' }] },
  {
    kind: 'class',
    name: 'mt_p_q_inner_data',
    id: 0x83c95aec,
    arguments: [
      { name: 'pq', type: 'bytes' },
      { name: 'p', type: 'bytes' },
      { name: 'q', type: 'bytes' },
      { name: 'nonce', type: 'int128' },
      { name: 'server_nonce', type: 'int128' },
      { name: 'new_nonce', type: 'int256' },
    ],
  },
  {
    kind: 'class',
    name: 'mt_p_q_inner_data_temp',
    id: 0x3c6a84d4,
    arguments: [
      { name: 'pq', type: 'bytes' },
      { name: 'p', type: 'bytes' },
      { name: 'q', type: 'bytes' },
      { name: 'nonce', type: 'int128' },
      { name: 'server_nonce', type: 'int128' },
      { name: 'new_nonce', type: 'int256' },
      { name: 'expires_in', type: 'int' },
    ],
  },
  {
    kind: 'class',
    name: 'mt_server_DH_params_fail',
    id: 0x79cb045d,
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
  const arg: TlArg = { name: tlFieldName(raw.name), kind, vector: Boolean(mods.isVector || mods.isBareVector), bareVector: Boolean(mods.isBareVector) };
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
  layer: number;
  byId: Map<number, TlConstructor>;
  byName: Map<string, TlConstructor>;
}

let cached: TlSchema | undefined;

/** Loads and indexes the schema once (≈2 MB of JSON, a few tens of ms). */
export function tlSchema(): TlSchema {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const api = require('@mtcute/core/tl/api-schema.json') as { l: number; e: RawEntry[] };
  const mtp = require('@mtcute/core/tl/mtp-schema.json') as RawEntry[];
  const byId = new Map<number, TlConstructor>();
  const byName = new Map<string, TlConstructor>();
  for (const entry of [...mtp, ...EXTRA_SERVICE_ENTRIES, ...api.e]) {
    if (entry.name.startsWith('mtcute.')) continue; // mtcute's internal placeholders, never on the wire
    const ctor: TlConstructor = { id: entry.id >>> 0, name: entry.name, kind: entry.kind, args: entry.arguments.map(compileArg) };
    if (byId.has(ctor.id)) continue; // first definition wins (service schema before API)
    byId.set(ctor.id, ctor);
    byName.set(ctor.name, ctor);
  }
  cached = { layer: api.l, byId, byName };
  return cached;
}

/** The API layer of the schema (227 for @mtcute/core 0.30.x). */
export function tlLayer(): number {
  return tlSchema().layer;
}
