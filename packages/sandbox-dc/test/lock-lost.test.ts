/** startSandboxDc with a data directory whose lock is lost while it runs: it stops writing there at once. */
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DataDirLockLostError } from '@telegram-service/durable-files';
import { startSandboxDc, type SandboxDc } from '../src/index.js';

const dirs: string[] = [];
const dcs: SandboxDc[] = [];
afterEach(async () => {
  for (const dc of dcs.splice(0)) await dc.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-dc-lock-'));
  dirs.push(dir);
  return dir;
}

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });

describe('sandbox DC: its data-directory lock lost while running', () => {
  it('tells onLockLost, and from then on writes nothing there (not even at close)', async () => {
    const dataDir = tempDir();
    const lost: DataDirLockLostError[] = [];
    const dc = await startSandboxDc({ dataDir, onLockLost: (err) => lost.push(err) });
    dcs.push(dc);
    dc.controls.createUser({ phone: '+15550001212' });
    await vi.waitFor(() => expect(readFileSync(join(dataDir, 'state.json'), 'utf8')).toContain('15550001212'), { timeout: 5_000 });
    unlinkSync(join(dataDir, 'sandbox-dc.lock'));
    await vi.waitFor(() => expect(lost).toHaveLength(1), { timeout: 10_000 });
    expect(lost[0]).toMatchObject({ reason: 'removed' });

    const stateBefore = statSync(join(dataDir, 'state.json'));
    dc.controls.createUser({ phone: '+15550001313' }); // in memory only now
    await dc.close();
    expect(readFileSync(join(dataDir, 'state.json'), 'utf8')).not.toContain('15550001313');
    expect(statSync(join(dataDir, 'state.json')).mtimeMs).toBe(stateBefore.mtimeMs);
  });

  it('without onLockLost it also stops serving', async () => {
    const dataDir = tempDir();
    const dc = await startSandboxDc({ dataDir, log: () => undefined });
    dcs.push(dc);
    unlinkSync(join(dataDir, 'sandbox-dc.lock'));
    for (const { port } of dc.dcs) await vi.waitFor(async () => expect(await refused(port)).toBe(true), { timeout: 10_000 });
  });
});
