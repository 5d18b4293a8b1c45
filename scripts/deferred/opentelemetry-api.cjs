'use strict';
// @opentelemetry/api: prom-client reads trace context from it only for exemplars, which the service does not enable.
module.exports = require('./defer.cjs')(() => require('@opentelemetry/api'), { properties: ['trace', 'context'] });
