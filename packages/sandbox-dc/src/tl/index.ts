/**
 * TL codec of the sandbox DC: schema-driven reader for client input, mtcute's writer for native-layer
 * answers, a schema-driven writer for the other layers, and the layer conversion between them.
 */
export type { TlObject } from '../types.js';
export { TlParseError } from './errors.js';
export { inflateGzipPacked, parseTl, peekConstructorId, readMsgContainer, readTlObject, type TlContainerMessage } from './reader.js';
export { ID_GZIP_PACKED, ID_MSG_CONTAINER } from './ids.js';
export { serializeTl, serializeTlVector, TlSerializeError } from './writer.js';
export { serializeTlWithSchema } from './schema-writer.js';
export { tlSchema, tlLayer, tlFieldName, compileTlSchema, type TlConstructor, type TlArg, type TlSchema, type RawEntry } from './schema.js';
export { parseTlText } from './tl-text.js';
export { LAYER_SOURCES, chooseLayer, knownLayers, layerSchema, loadedLayers, nativeLayerChoice, oldestLayer, type LayerChoice } from './layer-schemas.js';
export { convertBetweenLayers, LayerConversionError, REQUIRED_FIELD_DEFAULTS, tlNameAsErrorWord } from './layer-convert.js';
export {
  decodeRequestInLayer,
  layerChoiceFor,
  LayerTooOldError,
  peekDeclaredLayer,
  serializeForDeclaredLayer,
  serializeInLayer,
} from './layered-codec.js';
export * from './service.js';
