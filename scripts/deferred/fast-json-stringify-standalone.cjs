'use strict';
// fast-json-stringify's standalone mode (serializers written out as code): never used at run time.
module.exports = require('./defer.cjs')(() => require('fast-json-stringify/lib/standalone'), { properties: ['dependencies'] });
