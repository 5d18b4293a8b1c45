/** `npm run bench`: prints figures beside bare baselines measured in the same run. */
import { benchCluster } from './cluster.js';
import { benchSandboxDc } from './dc.js';
import { benchService } from './service.js';

const only = process.argv[2];
console.log(`# telegram-service bench — node ${process.version}, ${new Date().toISOString()}`);
if (!only || only === 'dc') await benchSandboxDc();
if (!only || only === 'service') await benchService();
if (!only || only === 'cluster') await benchCluster();
process.exit(process.exitCode ?? 0);
