/**
 * `npm run bench [-- dc|service|accounts]`: prints figures beside bare baselines measured in the same run.
 * The service parts talk to a sandbox DC in a process of its own.
 */
import { benchAccounts } from './accounts.js';
import { benchSandboxDc } from './dc.js';
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
process.exit(process.exitCode ?? 0);
