/**
 * `npm run bench [-- dc|service|accounts|cluster|events [latency]]`: prints figures beside bare baselines measured in the
 * same run. The service and accounts parts talk to a sandbox DC in a process of its own; the cluster part
 * starts its own (in-process: it needs the DC's test controls) and a PostgreSQL.
 */
import { benchAccounts } from './accounts.js';
import { benchCluster } from './cluster.js';
import { benchSandboxDc } from './dc.js';
import { benchEvents } from './events.js';
import { startDcProcess } from './processes.js';
import { benchService } from './service.js';

const only = process.argv[2];
console.log(`# telegram-service bench — node ${process.version}, ${new Date().toISOString()}`);
if (!only || only === 'dc') await benchSandboxDc();
if (!only || only === 'service' || only === 'accounts') {
  const dc = await startDcProcess();
  try {
    if (!only || only === 'service') await benchService(dc);
    if (!only || only === 'accounts') await benchAccounts(dc);
  } finally {
    await dc.stop();
  }
}
if (!only || only === 'cluster') await benchCluster();
if (!only || only === 'events') await benchEvents(process.argv[3] === 'latency' ? 'latency' : 'all');
process.exit(process.exitCode ?? 0);
