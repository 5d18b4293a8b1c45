'use strict';
// @fastify/ajv-compiler (and Ajv behind it): Fastify's default validator compiler. The service's route validators are
// generated at build time (scripts/compile-schemas.mjs); a schema they do not cover is compiled with it at run time.
module.exports = require('./defer.cjs')(() => require('@fastify/ajv-compiler'), {
  functions: ['default', 'AjvCompiler', 'StandaloneValidator'],
  properties: ['AjvReference'],
});
