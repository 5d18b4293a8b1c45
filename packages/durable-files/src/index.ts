/** Durable-file utilities shared by the service and the sandbox DC: atomic writes, the data-dir lock, private files, the open-file limit. */
export * from './atomic-file.js';
export * from './data-dir-lock.js';
export * from './fs-errors.js';
export * from './private-files.js';
export * from './open-file-limit.js';
