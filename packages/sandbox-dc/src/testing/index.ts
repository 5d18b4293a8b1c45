/**
 * `@telegram-service/sandbox-dc/testing`: helpers for tests that use the sandbox DC — a DC on free ports
 * in a temp directory (restartable), unmodified mtcute clients pointed at it, and a raw MTProto client
 * for protocol-level tests.
 */
export * from './sandbox.js';
export * from './raw-mtproto-client.js';
