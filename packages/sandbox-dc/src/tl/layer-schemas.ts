/**
 * The API layers the DC can speak besides its native one, each read from a package on the npm registry
 * (package.json installs them side by side under `tl-layer-<N>` aliases): @mtcute/tl publishes one version
 * per layer with its api-schema.json, GramJS's package `telegram` ships its layer as TL text. A schema is
 * loaded the first time a client declares its layer, then kept.
 *
 * A client that declares a layer with no schema of its own is served with the nearest schema below it
 * (a layer newer than the native one gets the native schema); below the oldest there is no schema.
 */
import { createRequire } from 'node:module';
import { compileTlSchema, tlSchema, type RawEntry, type TlSchema } from './schema.js';
import { parseTlText } from './tl-text.js';

interface LayerSource {
  layer: number;
  /** The npm alias the schema is installed under (see package.json). */
  pkg: string;
  /** Where in the package and in which form the schema is. */
  format: 'mtcute-json' | 'tl-text';
  /** Who speaks this layer, for the README and logs. */
  note: string;
}

const fromMtcuteTl = (layer: number, version: string): LayerSource => ({ layer, pkg: `tl-layer-${layer}`, format: 'mtcute-json', note: `@mtcute/tl ${version}` });
const fromGramJs = (layer: number, version: string, speakers = ''): LayerSource => ({
  layer,
  pkg: `tl-layer-${layer}`,
  format: 'tl-text',
  note: `telegram (GramJS) ${version}${speakers}`,
});

/** Every non-native layer with a schema, oldest first (the versions are the aliases' in package.json). */
export const LAYER_SOURCES: readonly LayerSource[] = [
  fromGramJs(158, '2.17.10', '; Pyrogram 2.0.106 speaks it'),
  fromMtcuteTl(167, '167.0.0'),
  fromMtcuteTl(179, '179.0.0'),
  fromMtcuteTl(181, '181.0.0'),
  fromMtcuteTl(185, '185.1.0'),
  fromMtcuteTl(189, '189.0.0'),
  fromGramJs(198, '2.26.22'),
  fromMtcuteTl(204, '204.0.0'),
  fromMtcuteTl(216, '216.0.0'),
  fromMtcuteTl(218, '218.0.1'),
  fromMtcuteTl(220, '220.0.0'),
  fromMtcuteTl(221, '221.0.0'),
  fromMtcuteTl(223, '223.0.0'),
];

/** How a declared layer is served. */
export interface LayerChoice {
  /** The layer the client declared with invokeWithLayer. */
  declared: number;
  /** The schema requests are read and answers written with (its `layer` is the one actually spoken). */
  schema: TlSchema;
  /** The schema is the native one: no conversion at all. */
  native: boolean;
  /** The schema is exactly the declared layer. */
  exact: boolean;
}

const loaded = new Map<number, TlSchema>();

function readEntries(source: LayerSource): RawEntry[] {
  const require = createRequire(import.meta.url);
  if (source.format === 'tl-text') return parseTlText(require(`${source.pkg}/tl/apiTl.js`) as string);
  const json = require(`${source.pkg}/api-schema.json`) as { l: number; e: RawEntry[] };
  if (json.l !== source.layer) throw new Error(`${source.pkg} carries layer ${json.l}, not ${source.layer}`);
  return json.e;
}

/** The compiled schema of one non-native layer listed in LAYER_SOURCES (loaded on first use). */
export function layerSchema(layer: number): TlSchema {
  if (layer === tlSchema().layer) return tlSchema();
  let schema = loaded.get(layer);
  if (!schema) {
    const source = LAYER_SOURCES.find((s) => s.layer === layer);
    if (!source) throw new Error(`no schema for layer ${layer}`);
    schema = compileTlSchema(layer, readEntries(source));
    loaded.set(layer, schema);
  }
  return schema;
}

/** The non-native layers whose schema has been loaded so far (in load order). */
export function loadedLayers(): number[] {
  return [...loaded.keys()];
}

/** Every layer with a schema, the native one last. */
export function knownLayers(): number[] {
  return [...LAYER_SOURCES.map((s) => s.layer), tlSchema().layer];
}

/** The oldest layer a client may declare. */
export function oldestLayer(): number {
  return LAYER_SOURCES[0]?.layer ?? tlSchema().layer;
}

/** How to serve a client that declared `declared`; null when it is older than every schema. */
export function chooseLayer(declared: number): LayerChoice | null {
  const nativeLayer = tlSchema().layer;
  if (declared >= nativeLayer) return { declared, schema: tlSchema(), native: true, exact: declared === nativeLayer };
  let best: number | undefined;
  for (const s of LAYER_SOURCES) if (s.layer <= declared) best = s.layer;
  if (best === undefined) return null;
  return { declared, schema: layerSchema(best), native: false, exact: best === declared };
}

/** The native layer as a choice (keys that have declared nothing yet, service messages). */
export function nativeLayerChoice(): LayerChoice {
  const nativeLayer = tlSchema().layer;
  return { declared: nativeLayer, schema: tlSchema(), native: true, exact: true };
}
