/**
 * The codec at the edge between a client's API layer and the native one: requests are read in the
 * client's layer and handed on as native objects; answers (and anything pushed) are built as native
 * objects and written in the client's layer. RPC handlers never see a layer.
 */
import type { TlObject } from '../types.js';
import { convertBetweenLayers } from './layer-convert.js';
import { chooseLayer, nativeLayerChoice, oldestLayer, type LayerChoice } from './layer-schemas.js';
import { parseTl } from './reader.js';
import { tlSchema } from './schema.js';
import { serializeTlWithSchema } from './schema-writer.js';
import { serializeTl } from './writer.js';

/** Wrappers a declared layer may sit under: invokeWithoutUpdates, invokeAfterMsg, invokeAfterMsgs. */
function wrapperIds(): { withLayer: number; skip: Map<number, 'none' | 'long' | 'longVector'> } {
  const id = (name: string) => tlSchema().byName.get(name)!.id;
  return {
    withLayer: id('invokeWithLayer'),
    skip: new Map([
      [id('invokeWithoutUpdates'), 'none'],
      [id('invokeAfterMsg'), 'long'],
      [id('invokeAfterMsgs'), 'longVector'],
    ]),
  };
}
let wrappers: ReturnType<typeof wrapperIds> | undefined;

/**
 * The layer a request body declares with invokeWithLayer (also under invokeWithoutUpdates /
 * invokeAfterMsg(s)), read without parsing the rest, or undefined. These wrappers' ids are the same
 * in every layer, which is what lets the DC choose the schema for the rest of the body.
 */
export function peekDeclaredLayer(body: Uint8Array): number | undefined {
  wrappers ??= wrapperIds();
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let pos = 0;
  for (let depth = 0; depth < 8 && pos + 8 <= body.length; depth++) {
    const id = view.getUint32(pos, true);
    if (id === wrappers.withLayer) return view.getInt32(pos + 4, true);
    const skip = wrappers.skip.get(id);
    if (skip === undefined) return undefined;
    pos += 4;
    if (skip === 'long') pos += 8;
    else if (skip === 'longVector') {
      if (pos + 8 > body.length) return undefined;
      pos += 8 + 8 * view.getUint32(pos + 4, true);
    }
  }
  return undefined;
}

/**
 * Reads one request in the layer `choice` serves and returns it as native objects. Throws TlParseError
 * (bad bytes) or LayerConversionError (a class the native layer does not have).
 */
export function decodeRequestInLayer(body: Uint8Array, choice: LayerChoice): TlObject {
  const parsed = parseTl(body, choice.schema);
  return choice.native ? parsed : convertBetweenLayers(parsed, choice.schema, tlSchema());
}

/**
 * An answer or pushed object, built as native objects, serialized (boxed) in the layer `choice`
 * serves. This is the one way API objects leave the DC. Throws TlSerializeError or LayerConversionError.
 */
export function serializeInLayer(value: TlObject | TlObject[] | boolean, choice: LayerChoice): Uint8Array {
  if (choice.native) return serializeTl(value);
  return serializeTlWithSchema(convertBetweenLayers(value, tlSchema(), choice.schema), choice.schema);
}

/** No schema is old enough for the layer a key declared: nothing can be written for it. */
export class LayerTooOldError extends Error {
  override readonly name = 'LayerTooOldError';

  constructor(readonly layer: number) {
    super(`layer ${layer} is older than every schema (the oldest is ${oldestLayer()})`);
  }

  /** The rpc_error message such a client gets for every API call. */
  get rpcErrorMessage(): string {
    return `LAYER_${this.layer < 0 ? 'NEGATIVE' : this.layer}_NOT_SUPPORTED_OLDEST_IS_${oldestLayer()}`;
  }
}

/** How to serve a key that declared `declaredLayer` (undefined: nothing declared yet, the native layer). */
export function layerChoiceFor(declaredLayer: number | undefined): LayerChoice {
  if (declaredLayer === undefined) return nativeLayerChoice();
  const choice = chooseLayer(declaredLayer);
  if (!choice) throw new LayerTooOldError(declaredLayer);
  return choice;
}

/**
 * Serializes a native-layer API object (an update, any answer) for an auth key that declared
 * `declaredLayer` with invokeWithLayer — what a server-initiated push must use. Throws
 * LayerTooOldError, LayerConversionError or TlSerializeError.
 */
export function serializeForDeclaredLayer(value: TlObject | TlObject[] | boolean, declaredLayer: number | undefined): Uint8Array {
  return serializeInLayer(value, layerChoiceFor(declaredLayer));
}
