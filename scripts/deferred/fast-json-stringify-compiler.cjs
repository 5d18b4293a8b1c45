'use strict';
// @fastify/fast-json-stringify-compiler (and fast-json-stringify behind it): Fastify's default serializer compiler.
// The service's response serializers are generated at build time (scripts/compile-schemas.mjs); a schema they do
// not cover is compiled with it at run time.
module.exports = require('./defer.cjs')(() => require('@fastify/fast-json-stringify-compiler'), {
  functions: ['default', 'SerializerSelector', 'StandaloneSerializer'],
});
