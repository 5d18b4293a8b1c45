/** Runs a sandbox DC in its own process for the bench, so its figures are not the clients' CPU. */
import { startSandboxDc } from '@telegram-service/sandbox-dc';

const dc = await startSandboxDc({ limits: { maxConnections: 10_000 } });
process.stdout.write(JSON.stringify({ dcs: dc.dcs, publicKeyPem: dc.publicKeyPem }) + '\n');
process.on('SIGTERM', () => void dc.close().then(() => process.exit(0)));
