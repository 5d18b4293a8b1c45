/** Durable-file utilities shared by the service and the sandbox DC: atomic writes and the data-dir lock. */
export * from './atomic-file.js';
export * from './data-dir-lock.js';
export * from './fs-errors.js';
