'use strict';
// tdigest (and bintrees behind it): prom-client's Summary metric computes its quantiles with it. The service's
// metrics are counters, gauges and histograms.
module.exports = require('./defer.cjs')(() => require('tdigest'), { functions: ['TDigest', 'Digest'] });
