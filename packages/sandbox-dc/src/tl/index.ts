/** TL codec of the sandbox DC: schema-driven reader for client input, mtcute's writer for answers. */
export type { TlObject } from '../types.js';
export { TlParseError } from './errors.js';
export { inflateGzipPacked, parseTl, peekConstructorId, readMsgContainer, readTlObject, type TlContainerMessage } from './reader.js';
export { ID_GZIP_PACKED, ID_MSG_CONTAINER } from './ids.js';
export { serializeTl, serializeTlVector, TlSerializeError } from './writer.js';
export { tlSchema, tlLayer, tlFieldName, type TlConstructor, type TlArg } from './schema.js';
export * from './service.js';
