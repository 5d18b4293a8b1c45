/**
 * Reads a TL schema written as text (core.telegram.org/mtproto/TL: `name#id field:type … = Type;`,
 * `---functions---` before the methods), as GramJS's package ships it, into the entry shape of
 * mtcute's schema JSON, so both kinds of schema compile the same way (schema.ts).
 */
import type { RawArg, RawEntry } from './schema.js';

/** Constructors every TL codec handles itself; the reader knows them by id. */
const BUILT_IN = new Set(['boolFalse', 'boolTrue', 'true', 'vector']);

const LINE = /^([a-zA-Z][\w.]*)#([0-9a-fA-F]{1,8})\s+(.*?)\s*=\s*([^;]+);$/;

function parseArg(token: string, entryName: string): RawArg {
  const colon = token.indexOf(':');
  if (colon <= 0) throw new Error(`bad argument "${token}" in ${entryName}`);
  const arg: RawArg = { name: token.slice(0, colon), type: token.slice(colon + 1) };
  const mods: NonNullable<RawArg['typeModifiers']> = {};
  const conditional = /^(\w+\.\d+)\?(.+)$/.exec(arg.type);
  if (conditional) {
    mods.predicate = conditional[1];
    arg.type = conditional[2]!;
  }
  const vector = /^([Vv])ector<(.+)>$/.exec(arg.type);
  if (vector) {
    if (vector[1] === 'v') mods.isBareVector = true;
    else mods.isVector = true;
    arg.type = vector[2]!;
  }
  if (arg.type.startsWith('%')) {
    mods.isBareType = true;
    arg.type = arg.type.slice(1);
  }
  if (Object.keys(mods).length) arg.typeModifiers = mods;
  return arg;
}

/**
 * The entries of a TL text schema. Comments, blank lines and the built-in constructors are skipped;
 * bare `%Type` arguments get the id of their type's only constructor. Throws on a line it cannot read.
 */
export function parseTlText(text: string): RawEntry[] {
  const entries: RawEntry[] = [];
  let kind: RawEntry['kind'] = 'class';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    if (!line) continue;
    if (line === '---functions---') {
      kind = 'method';
      continue;
    }
    if (line === '---types---') {
      kind = 'class';
      continue;
    }
    const m = LINE.exec(line);
    if (!m) throw new Error(`unreadable TL line: ${line}`);
    const [, name, id, args, type] = m as unknown as [string, string, string, string, string];
    if (BUILT_IN.has(name)) continue;
    const tokens = args.split(/\s+/).filter((t) => t && !t.startsWith('{')); // `{X:Type}` declares a type variable
    entries.push({ kind, name, id: Number.parseInt(id, 16) >>> 0, type: type.trim(), arguments: tokens.map((t) => parseArg(t, name)) });
  }
  resolveBareTypes(entries);
  return entries;
}

/** Primitive types: never a constructor, even when written in lower case. */
const PRIMITIVES = new Set(['#', 'true', 'int', 'long', 'int53', 'double', 'int128', 'int256', 'bytes', 'string']);

/**
 * Bare types get their constructor's id: `%Type` (the type's only constructor) and a lower-case
 * constructor name such as `future_salt`. `vector<User>` stays a bare vector of boxed objects.
 */
function resolveBareTypes(entries: RawEntry[]): void {
  const byType = new Map<string, RawEntry[]>();
  const byName = new Map<string, RawEntry>();
  for (const e of entries) {
    if (e.kind !== 'class') continue;
    byName.set(e.name, e);
    byType.set(e.type, [...(byType.get(e.type) ?? []), e]);
  }
  for (const e of entries) {
    for (const arg of e.arguments) {
      const mods = arg.typeModifiers;
      const explicit = mods?.isBareType === true;
      const lowerCaseName = !PRIMITIVES.has(arg.type) && /^[a-z]/.test(arg.type.split('.').pop()!);
      if (!explicit && !lowerCaseName) continue;
      const only = byType.get(arg.type);
      const target = (explicit && only?.length === 1 ? only[0] : undefined) ?? byName.get(arg.type);
      if (!target) throw new Error(`bare type ${arg.type} in ${e.name} names no single constructor`);
      arg.typeModifiers = { ...mods, isBareType: true, constructorId: target.id };
    }
  }
}
