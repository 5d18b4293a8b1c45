'use strict';
// @fastify/proxy-addr (and ipaddr.js behind it): Fastify works out a client's address behind trusted proxies with it,
// only when `trustProxy` is set, which the service does not set.
module.exports = require('./defer.cjs')(() => require('@fastify/proxy-addr'), { functions: ['default', 'proxyaddr', 'all', 'compile'] });
