'use strict';
// fast-json-stringify's Ajv-backed validator: constructed only for response schemas with anyOf, oneOf or if/then/else.
module.exports = require('./defer.cjs')(() => require('fast-json-stringify/lib/validator'), { functions: ['escapeRefForAjv'] });
