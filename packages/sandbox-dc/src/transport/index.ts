export { detectTransport, type DetectedTransport } from './detect.js';
export { AbridgedCodec, FullCodec, IntermediateCodec } from './framing.js';
export { ObfuscatedCodec, openObfuscation } from './obfuscated.js';
export { TransportViolation, transportErrorPayload, type FrameCodec, type FramingKind } from './types.js';
