/**
 * The DC's API layers: where each schema comes from, how a declared layer is served, and — for every
 * supported layer — that every answer the DC gives is written so that *that layer's own reader* (the
 * generated reader of @mtcute/tl for the layer, or GramJS's for its layers) reads back the same
 * object, and that requests written by the layer's own writer reach the handlers as native objects.
 * The table below records which of the constructors the DC writes differ between each layer and 227.
 */
import { createRequire } from 'node:module';
import Long from 'long';
import { beforeAll, describe, expect, it } from 'vitest';
import { TlBinaryReader, TlBinaryWriter, __tlReaderMap as nativeReaderMap, __tlWriterMap as nativeWriterMap } from '@mtcute/core/utils.js';
import { allMethods } from '../src/rpc/dispatcher.js';
import {
  chooseLayer,
  convertBetweenLayers,
  decodeRequestInLayer,
  knownLayers,
  LayerConversionError,
  LAYER_SOURCES,
  layerSchema,
  loadedLayers,
  parseTl,
  peekDeclaredLayer,
  REQUIRED_FIELD_DEFAULTS,
  serializeInLayer,
  serializeTlWithSchema,
  tlSchema,
  type RawEntry,
  type TlObject,
  type TlSchema,
} from '../src/tl/index.js';
import { parseTlText } from '../src/tl/tl-text.js';
import { collectDcAnswers, constructorNames, constructorNamesInSource, type DcAnswer } from './helpers/dc-answers.js';
import { makeSampler, sampleObject } from './tl-samples.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const NATIVE = 227;
const OLD_LAYERS = LAYER_SOURCES.map((s) => s.layer);

/**
 * Which constructors the DC writes differ from layer 227 in each layer: 'id' = another constructor id
 * (fields may differ too), 'fields' = same id, other optional fields. No constructor the DC writes is
 * missing from any layer, and none has a required field that 227 lacks (REQUIRED_FIELD_DEFAULTS would
 * have to give it a value): both are checked below.
 */
const DIFFERS_FROM_227: Record<number, Record<string, 'id' | 'fields'>> = {
  158: {
    authorization: 'fields',
    dialog: 'id',
    message: 'id',
    'messages.messages': 'id',
    'messages.messagesSlice': 'id',
    peerNotifySettings: 'id',
    peerSettings: 'id',
    user: 'id',
    userFull: 'id',
    updateReadHistoryInbox: 'id',
    userStatusRecently: 'id',
  },
  167: {
    dialog: 'id',
    message: 'id',
    'messages.messages': 'id',
    'messages.messagesSlice': 'id',
    peerSettings: 'id',
    user: 'id',
    userFull: 'id',
    updateReadHistoryInbox: 'id',
    userStatusRecently: 'id',
  },
  179: { dialog: 'id', message: 'id', 'messages.messages': 'id', 'messages.messagesSlice': 'id', peerSettings: 'id', user: 'id', userFull: 'id', updateReadHistoryInbox: 'id' },
  181: { dialog: 'id', message: 'id', 'messages.messages': 'id', 'messages.messagesSlice': 'id', peerSettings: 'id', user: 'id', userFull: 'id', updateReadHistoryInbox: 'id' },
  185: { dialog: 'id', message: 'id', 'messages.messages': 'id', 'messages.messagesSlice': 'id', peerSettings: 'id', user: 'id', userFull: 'id', updateReadHistoryInbox: 'id' },
  189: { dialog: 'id', message: 'id', 'messages.messages': 'id', 'messages.messagesSlice': 'id', peerSettings: 'id', user: 'id', userFull: 'id', updateReadHistoryInbox: 'id' },
  198: { dialog: 'id', message: 'id', 'messages.messages': 'id', 'messages.messagesSlice': 'id', peerSettings: 'id', user: 'id', userFull: 'id', updateReadHistoryInbox: 'id' },
  204: { dialog: 'id', message: 'id', 'messages.messages': 'id', 'messages.messagesSlice': 'id', user: 'id', userFull: 'id', updateReadHistoryInbox: 'id' },
  216: { dialog: 'id', message: 'id', user: 'id', userFull: 'id' },
  218: { dialog: 'id', message: 'id', user: 'fields', userFull: 'id' },
  220: { dialog: 'id', message: 'id', user: 'fields', userFull: 'id' },
  221: { dialog: 'id', message: 'id', user: 'fields', userFull: 'id' },
  223: { dialog: 'id', message: 'id', user: 'fields', userFull: 'id' },
  227: {},
};

/** A layer's own reader, independent of ours: @mtcute/tl's generated reader map, or GramJS's BinaryReader. */
function ownReader(layer: number): (bytes: Uint8Array) => unknown {
  const source = LAYER_SOURCES.find((s) => s.layer === layer);
  if (!source) return (bytes) => TlBinaryReader.deserializeObject(nativeReaderMap, bytes);
  if (source.format === 'mtcute-json') {
    const { __tlReaderMap } = require(`${source.pkg}/binary/reader.js`) as Any;
    return (bytes) => TlBinaryReader.deserializeObject(__tlReaderMap, bytes);
  }
  const { BinaryReader } = require(`${source.pkg}/extensions/BinaryReader.js`) as Any;
  return (bytes) => {
    const reader = new BinaryReader(Buffer.from(bytes));
    const value = reader.tgReadObject();
    if (reader.tellPosition() !== bytes.length) throw new Error(`GramJS read ${reader.tellPosition()} of ${bytes.length} bytes`);
    return value;
  };
}

/** A layer's own writer for requests (@mtcute/tl's generated writer map); our schema writer for GramJS's layers. */
function ownWriter(layer: number): (obj: TlObject) => Uint8Array {
  const source = LAYER_SOURCES.find((s) => s.layer === layer);
  if (source?.format === 'tl-text') return (obj) => serializeTlWithSchema(obj, layerSchema(layer));
  const writerMap = source ? (require(`${source.pkg}/binary/writer.js`) as Any).__tlWriterMap : nativeWriterMap;
  return (obj) => TlBinaryWriter.serializeObject(writerMap, obj as Any);
}

const isBigInteger = (v: unknown): boolean => v !== null && typeof v === 'object' && typeof (v as Any).toJSNumber === 'function';

/**
 * A comparable form of a decoded object from any reader (ours, mtcute's, GramJS's): constructor name,
 * the layer's fields only, integers as decimal strings, bytes as hex, unset optional fields left out.
 */
function normalize(value: unknown, schema: TlSchema): unknown {
  if (Array.isArray(value)) return value.map((v) => normalize(v, schema));
  if (typeof value === 'number') return String(value);
  if (Long.isLong(value) || isBigInteger(value) || typeof value === 'bigint') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Any;
  const ctor = typeof obj._ === 'string' ? schema.byName.get(obj._) : schema.byId.get(obj.CONSTRUCTOR_ID >>> 0);
  if (!ctor) throw new Error(`layer ${schema.layer} has no constructor for ${obj._ ?? obj.className}`);
  const out: Record<string, unknown> = { _: ctor.name };
  // GramJS keeps upper-case parts of field names (`srp_B`), mtcute folds them (`srpB`).
  const loose = new Map(Object.keys(obj).map((k) => [k.replace(/_/g, '').toLowerCase(), obj[k]]));
  for (const arg of ctor.args) {
    const v = obj[arg.name] ?? loose.get(arg.name.toLowerCase());
    if (arg.kind === 'flags' || v === undefined || v === null || (arg.kind === 'true' && v === false)) continue;
    out[arg.name] = normalize(v, schema);
  }
  return out;
}

let answers: { method: string; answer: DcAnswer }[];
let written: Set<string>;
beforeAll(async () => {
  answers = await collectDcAnswers();
  written = constructorNamesInSource();
  // Constructors the handlers can write that the session above does not reach: a minimal sample each.
  const reached = constructorNames(answers.map((a) => a.answer));
  for (const name of [...written]) {
    if (reached.has(name)) continue;
    const entry = (require('@mtcute/core/tl/api-schema.json') as { e: RawEntry[] }).e.find((e) => e.name === name);
    if (!entry) throw new Error(`${name} is written by the DC but not in layer 227`);
    answers.push({ method: `sample of ${name}`, answer: sampleObject(entry, 'minimal') });
  }
  for (const name of reached) written.add(name);
});

describe('layer schemas', () => {
  it('are loaded lazily, once per layer in use', () => {
    expect(loadedLayers()).toEqual([]);
    const first = chooseLayer(198)!;
    expect(loadedLayers()).toEqual([198]);
    expect(chooseLayer(198)!.schema).toBe(first.schema);
    expect(loadedLayers()).toEqual([198]);
  });

  it('each package carries the layer it is listed for', () => {
    expect(knownLayers()).toEqual([...OLD_LAYERS, NATIVE]);
    expect(tlSchema().layer).toBe(NATIVE);
    for (const source of LAYER_SOURCES) {
      if (source.format === 'tl-text') {
        expect((require(`${source.pkg}/tl/AllTLObjects.js`) as Any).LAYER, source.pkg).toBe(source.layer);
      } else {
        expect((require(`${source.pkg}/api-schema.json`) as { l: number }).l, source.pkg).toBe(source.layer);
      }
      expect(source.note).toContain((require(`${source.pkg}/package.json`) as { version: string }).version);
      const schema = layerSchema(source.layer);
      expect(schema.layer).toBe(source.layer);
      expect(schema.byName.get('auth.sendCode')?.kind).toBe('method');
      expect(schema.byName.get('mt_ping')?.id).toBe(tlSchema().byName.get('mt_ping')!.id); // the service schema is in every layer
    }
  });

  it('a declared layer gets its own schema, else the nearest below; newer than 227 gets 227; older than 158 none', () => {
    expect(chooseLayer(198)).toMatchObject({ declared: 198, exact: true, native: false });
    expect(chooseLayer(188)).toMatchObject({ declared: 188, exact: false, native: false });
    expect(chooseLayer(188)!.schema.layer).toBe(185);
    expect(chooseLayer(158)!.schema.layer).toBe(158);
    expect(chooseLayer(226)!.schema.layer).toBe(223);
    expect(chooseLayer(227)).toMatchObject({ exact: true, native: true });
    expect(chooseLayer(230)).toMatchObject({ exact: false, native: true });
    expect(chooseLayer(157)).toBeNull();
  });

  it('reads TL text the way mtcute lays out its schema JSON', () => {
    const entries = parseTlText(
      [
        'vector#1cb5c415 {t:Type} # [ t ] = Vector t;',
        'user#83314fca flags:# self:flags.10?true id:long first_name:flags.1?string = User;',
        'future_salt#0949d9dc valid_since:int salt:long = FutureSalt;',
        'salts#ae500895 now:int salts:vector<future_salt> = Salts; // a comment',
        '---functions---',
        'invokeWithLayer#da9b0d0d {X:Type} layer:int query:!X = X;',
        'users.getUsers#d91a548 id:Vector<InputUser> = Vector<User>;',
      ].join('\n'),
    );
    expect(entries.map((e) => [e.kind, e.name, e.id, e.type])).toEqual([
      ['class', 'user', 0x83314fca, 'User'],
      ['class', 'future_salt', 0x0949d9dc, 'FutureSalt'],
      ['class', 'salts', 0xae500895, 'Salts'],
      ['method', 'invokeWithLayer', 0xda9b0d0d, 'X'],
      ['method', 'users.getUsers', 0x0d91a548, 'Vector<User>'],
    ]);
    expect(entries[0]!.arguments[1]).toEqual({ name: 'self', type: 'true', typeModifiers: { predicate: 'flags.10' } });
    expect(entries[2]!.arguments[1]).toEqual({ name: 'salts', type: 'future_salt', typeModifiers: { isBareVector: true, isBareType: true, constructorId: 0x0949d9dc } });
    expect(entries[3]!.arguments[1]).toEqual({ name: 'query', type: '!X' });
    expect(entries[4]!.arguments[0]).toEqual({ name: 'id', type: 'InputUser', typeModifiers: { isVector: true } });
    expect(() => parseTlText('garbage line')).toThrow(/unreadable/);
  });

  it('peekDeclaredLayer finds invokeWithLayer, also under invokeWithoutUpdates and invokeAfterMsg(s)', () => {
    const native = tlSchema();
    const query = { _: 'invokeWithLayer', layer: 198, query: { _: 'help.getConfig' } };
    const write = (obj: TlObject) => serializeTlWithSchema(obj, native);
    expect(peekDeclaredLayer(write(query))).toBe(198);
    expect(peekDeclaredLayer(write({ _: 'invokeWithoutUpdates', query }))).toBe(198);
    expect(peekDeclaredLayer(write({ _: 'invokeAfterMsg', msgId: Long.fromNumber(12), query }))).toBe(198);
    expect(peekDeclaredLayer(write({ _: 'invokeAfterMsgs', msgIds: [Long.ONE, Long.ZERO], query }))).toBe(198);
    expect(peekDeclaredLayer(write({ _: 'help.getConfig' }))).toBeUndefined();
    expect(peekDeclaredLayer(new Uint8Array([0x0d, 0x0d, 0x9b, 0xda]))).toBeUndefined(); // truncated
  });
});

describe('conversion by name', () => {
  const native = () => tlSchema();
  const l158 = () => layerSchema(158);

  it('drops fields the target lacks, keeps shared ones, and carries int53 / long over', () => {
    const user = { _: 'user', id: 700000001, self: true, accessHash: Long.fromNumber(42), firstName: 'A', botGuard: true, status: { _: 'userStatusRecently', byMe: true } };
    const old = convertBetweenLayers(user, native(), l158()) as Any;
    expect(old).toMatchObject({ _: 'user', self: true, firstName: 'A', status: { _: 'userStatusRecently' } });
    expect(Long.isLong(old.id) && old.id.toNumber()).toBe(700000001); // int53 in 227, long in GramJS's 158 text
    expect('botGuard' in old || 'byMe' in old.status).toBe(false);
    const back = convertBetweenLayers(old, l158(), native()) as Any;
    expect(back.id).toBe(700000001);
  });

  it('gives required fields the source lacks a default, and keeps the value of a field whose type changed', () => {
    // poll.question is a string in 158 and TextWithEntities in 227; poll answers likewise.
    const poll = { _: 'poll', id: Long.ONE, question: { _: 'textWithEntities', text: 'Q?', entities: [] }, answers: [{ _: 'pollAnswer', text: { _: 'textWithEntities', text: 'yes', entities: [] }, option: Uint8Array.of(1) }] };
    const old = convertBetweenLayers(poll, native(), l158()) as Any;
    expect(old.question).toBe('Q?');
    expect(old.answers[0].text).toBe('yes');
    expect((convertBetweenLayers(old, l158(), native()) as Any).question).toEqual({ _: 'textWithEntities', text: 'Q?', entities: [] });
    // A required field missing altogether: the zero of its type.
    expect(convertBetweenLayers({ _: 'updates.state' }, native(), l158())).toEqual({ _: 'updates.state', pts: 0, qts: 0, date: 0, seq: 0, unreadCount: 0 });
  });

  it('stands an …Empty constructor in for a class the target lacks, else fails naming it; methods pass through', () => {
    expect(convertBetweenLayers({ _: 'messageMediaPaidMedia', starsAmount: Long.ONE, extendedMedia: [] }, native(), l158())).toEqual({ _: 'messageMediaEmpty' });
    const reply = { _: 'inputReplyToMessage', replyToMsgId: 1 };
    const caught = ((): unknown => {
      try {
        return convertBetweenLayers(reply, native(), l158());
      } catch (err) {
        return err;
      }
    })();
    expect(caught).toBeInstanceOf(LayerConversionError);
    expect((caught as LayerConversionError).rpcErrorMessage).toBe('LAYER_158_LACKS_INPUT_REPLY_TO_MESSAGE');
    const oldOnly = { _: 'help.getAppChangelog', prevAppVersion: '1' };
    expect(convertBetweenLayers(oldOnly, l158(), native())).toBe(oldOnly);
  });
});

describe('which constructors the DC writes differ from layer 227', () => {
  it('matches the table, none is missing and none needs a default for a required field', () => {
    const native = tlSchema();
    const table: Record<number, Record<string, 'id' | 'fields'>> = {};
    const missing: string[] = [];
    const requiredOnlyInOld: string[] = [];
    for (const layer of [...OLD_LAYERS, NATIVE]) {
      const schema = layerSchema(layer);
      table[layer] = {};
      for (const name of [...written].sort()) {
        const ours = native.byName.get(name)!;
        const theirs = schema.byName.get(name);
        if (!theirs) {
          missing.push(`${layer}:${name}`);
          continue;
        }
        const sig = (c: typeof ours) => c.args.map((a) => `${a.name}:${a.vector ? 'V' : ''}${a.type === 'int53' ? 'long' : a.type}:${a.flagsField ?? ''}.${a.flagBit ?? ''}`).join(' ');
        if (theirs.id !== ours.id) table[layer]![name] = 'id';
        else if (sig(theirs) !== sig(ours)) table[layer]![name] = 'fields';
        for (const arg of theirs.args) {
          if (arg.kind === 'flags' || arg.flagsField !== undefined) continue;
          const counterpart = ours.args.find((a) => a.name === arg.name);
          if (!counterpart || counterpart.flagsField !== undefined) {
            if (!(`${name}.${arg.name}` in REQUIRED_FIELD_DEFAULTS)) requiredOnlyInOld.push(`${layer}:${name}.${arg.name}`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
    expect(requiredOnlyInOld).toEqual([]);
    expect(table).toEqual(DIFFERS_FROM_227);
  });
});

describe.each([...OLD_LAYERS, NATIVE])('layer %i', (layer) => {
  it('every answer the DC gives is read back by the layer’s own reader as the same object', () => {
    const choice = chooseLayer(layer)!;
    const read = ownReader(layer);
    let checked = 0;
    for (const { method, answer } of answers) {
      if (typeof answer === 'boolean') continue;
      const bytes = serializeInLayer(answer, choice);
      const expected = normalize(convertBetweenLayers(answer, tlSchema(), choice.schema), choice.schema);
      expect(normalize(read(bytes), choice.schema), `${method} → layer ${layer}, their reader`).toEqual(expected);
      // Our reader reads objects (a vector answer: element by element), and back in 227 whatever
      // both layers have survives the trip.
      for (const item of Array.isArray(answer) ? answer : [answer]) {
        const ours = parseTl(serializeInLayer(item, choice), choice.schema);
        const inLayer = convertBetweenLayers(item, tlSchema(), choice.schema);
        expect(normalize(ours, choice.schema), `${method} → layer ${layer}, our reader`).toEqual(normalize(inLayer, choice.schema));
        const back = convertBetweenLayers(ours, choice.schema, tlSchema());
        expect(normalize(back, tlSchema()), `${method} → layer ${layer} → 227`).toEqual(normalize(convertBetweenLayers(inLayer, choice.schema, tlSchema()), tlSchema()));
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(25);
    // The fields a client needs arrive: the user's phone and names, message texts.
    const login = serializeInLayer(answers.find((a) => a.method === 'auth.signUp')!.answer as TlObject, choice);
    expect(normalize(read(login), choice.schema)).toMatchObject({ _: 'auth.authorization', user: { _: 'user', phone: '15550009999', firstName: 'New' } });
  });

  it('every request the DC handles, written by the layer’s own writer, reaches the handlers as a 227 object', () => {
    const schema = layerSchema(layer);
    const source = LAYER_SOURCES.find((s) => s.layer === layer);
    const entries: RawEntry[] = !source
      ? (require('@mtcute/core/tl/api-schema.json') as { e: RawEntry[] }).e
      : source.format === 'tl-text'
        ? parseTlText(require(`${source.pkg}/tl/apiTl.js`) as string)
        : (require(`${source.pkg}/api-schema.json`) as { e: RawEntry[] }).e;
    const sample = makeSampler(entries);
    const write = ownWriter(layer);
    const choice = chooseLayer(layer)!;
    let checked = 0;
    for (const name of Object.keys(allMethods)) {
      const entry = entries.find((e) => e.name === name && e.kind === 'method');
      if (!entry) continue;
      for (const mode of ['minimal', 'full'] as const) {
        const request = sample(entry, mode, 0, 1);
        const wrapped = { _: 'invokeWithLayer', layer, query: { _: 'invokeWithoutUpdates', query: request } };
        const decoded = decodeRequestInLayer(write(wrapped as TlObject), choice);
        const inner = (decoded.query as TlObject).query as TlObject;
        expect(inner._).toBe(name);
        expect(normalize(inner, tlSchema()), `${name} (${mode}) from layer ${layer}`).toEqual(
          normalize(convertBetweenLayers(parseTl(write(request as TlObject), schema), schema, tlSchema()), tlSchema()),
        );
        // Every field the handler may read is there (required ones always, with a value of the right kind).
        for (const arg of tlSchema().byName.get(name)!.args) {
          if (arg.kind !== 'flags' && arg.flagsField === undefined) expect(inner[arg.name], `${name}.${arg.name}`).toBeDefined();
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });
});
