'use strict';
// ip-address: @fastify/rate-limit's default key generator groups IPv6 clients by subnet with it. The service's login
// rate limit has a key generator of its own (http/plugins/login-rate-limit.ts), so it is not called.
module.exports = require('./defer.cjs')(() => require('ip-address'), { functions: ['Address6'] });
