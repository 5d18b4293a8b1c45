import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ensurePrivateDir,
  moveAside,
  removeFileDurable,
  removeStaleTempFiles,
  writeFileAtomic,
} from '../src/atomic-file.js';
import { PersistenceWriteError } from '../src/fs-errors.js';

const LIB_SRC = fileURLToPath(new URL('../src/', import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'atomic-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const modeOf = async (p: string) => (await fsp.stat(p)).mode & 0o777;

describe('ensurePrivateDir', () => {
  it('creates a missing directory (and parents) as 0700', async () => {
    const target = path.join(dir, 'a', 'b');
    const result = await ensurePrivateDir(target);
    expect(result).toEqual({ created: true, warnings: [] });
    expect(await modeOf(target)).toBe(0o700);
  });

  it('tightens an existing group/world-readable directory with a warning', async () => {
    const target = path.join(dir, 'loose');
    await fsp.mkdir(target);
    await fsp.chmod(target, 0o755);
    const result = await ensurePrivateDir(target);
    expect(result.created).toBe(false);
    expect(result.warnings).toEqual([expect.stringContaining('0755')]);
    expect(await modeOf(target)).toBe(0o700);
  });

  it('leaves a 0700 directory alone and refuses a regular file', async () => {
    expect((await ensurePrivateDir(dir)).warnings).toEqual([]);
    const file = path.join(dir, 'f');
    await fsp.writeFile(file, 'x');
    await expect(ensurePrivateDir(file)).rejects.toBeInstanceOf(PersistenceWriteError);
  });
});

describe('writeFileAtomic', () => {
  it('writes the content as 0600 and leaves no temp file', async () => {
    const file = path.join(dir, 'f.json');
    await writeFileAtomic(file, '{"a":1}');
    await writeFileAtomic(file, new Uint8Array([1, 2, 3]));
    expect([...(await fsp.readFile(file))]).toEqual([1, 2, 3]);
    expect(await modeOf(file)).toBe(0o600);
    expect(await fsp.readdir(dir)).toEqual(['f.json']);
  });

  it('makes the mode exactly 0600 even when the old file was looser', async () => {
    const file = path.join(dir, 'f.json');
    await fsp.writeFile(file, 'old', { mode: 0o644 });
    await writeFileAtomic(file, 'new');
    expect(await modeOf(file)).toBe(0o600);
  });

  it('replaces a symlink itself, never writing through it', async () => {
    const outside = path.join(dir, 'outside.txt');
    await fsp.writeFile(outside, 'precious');
    const link = path.join(dir, 'link.json');
    await fsp.symlink(outside, link);
    await writeFileAtomic(link, 'mine');
    expect(await fsp.readFile(outside, 'utf8')).toBe('precious');
    expect((await fsp.lstat(link)).isSymbolicLink()).toBe(false);
  });

  it('fails with a typed error carrying the errno code, old file untouched, no temp left', async () => {
    const file = path.join(dir, 'f.json');
    await writeFileAtomic(file, 'old');
    // A directory in the way of the rename: EISDIR, after the temp file was written.
    const blocked = path.join(dir, 'blocked');
    await fsp.mkdir(path.join(blocked, 'x'), { recursive: true });
    const err = await writeFileAtomic(blocked, 'new').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PersistenceWriteError);
    expect((err as PersistenceWriteError).code).toMatch(/^E[A-Z]+$/);
    expect(await fsp.readFile(file, 'utf8')).toBe('old');
    expect((await fsp.readdir(dir)).sort()).toEqual(['blocked', 'f.json']);

    const missingDir = await writeFileAtomic(path.join(dir, 'nope', 'f'), 'x').catch((e: unknown) => e);
    expect(missingDir).toMatchObject({ name: 'PersistenceWriteError', code: 'ENOENT' });
  });
});

describe('helpers', () => {
  it('removeFileDurable tolerates a missing file', async () => {
    const file = path.join(dir, 'f');
    await fsp.writeFile(file, 'x');
    await removeFileDurable(file);
    await removeFileDurable(file);
    expect(await fsp.readdir(dir)).toEqual([]);
  });

  it('moveAside renames with a time suffix and never clobbers an earlier one', async () => {
    const file = path.join(dir, 'session.json');
    const now = new Date('2025-01-02T03:04:05.678Z');
    await fsp.writeFile(file, 'one');
    const first = await moveAside(file, 'corrupt', now);
    await fsp.writeFile(file, 'two');
    const second = await moveAside(file, 'corrupt', now);
    expect(path.basename(first)).toBe('session.json.corrupt-2025-01-02T03-04-05.678Z');
    expect(second).not.toBe(first);
    expect(await fsp.readFile(first, 'utf8')).toBe('one');
    expect(await fsp.readFile(second, 'utf8')).toBe('two');
  });

  it('removeStaleTempFiles removes only that file’s temp files', async () => {
    await fsp.writeFile(path.join(dir, '.session.json.tmp-1-abc'), '');
    await fsp.writeFile(path.join(dir, '.other.json.tmp-1-abc'), '');
    expect(await removeStaleTempFiles(path.join(dir, 'session.json'))).toBe(1);
    expect(await fsp.readdir(dir)).toEqual(['.other.json.tmp-1-abc']);
  });
});

describe('crash safety (SIGKILL mid-write)', () => {
  const ITERATIONS = 50;
  let atomicModule: string;

  // The writer child runs plain JS (no tsx start-up per child): atomic-file.ts and its imports, transpiled.
  beforeAll(async () => {
    const out = await fsp.mkdtemp(path.join(os.tmpdir(), 'atomic-js-'));
    for (const name of ['atomic-file.ts', 'fs-errors.ts', 'private-files.ts']) {
      const source = await fsp.readFile(path.join(LIB_SRC, name), 'utf8');
      const { outputText } = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      });
      await fsp.writeFile(path.join(out, name.replace(/\.ts$/, '.js')), outputText);
    }
    atomicModule = path.join(out, 'atomic-file.js');
  });
  afterAll(async () => {
    await fsp.rm(path.dirname(atomicModule), { recursive: true, force: true });
  });

  it(`after ${ITERATIONS} kills the file is always one complete version`, async () => {
    const file = path.join(dir, 'doc.json');
    const pad = 'x'.repeat(48 * 1024); // big enough that a kill can land inside a write
    let killsWithFile = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const written = await runWriterAndKill(atomicModule, file, pad, 5 + Math.floor(Math.random() * 60));
      let parsed: { n: number; pad: string };
      try {
        parsed = JSON.parse(await fsp.readFile(file, 'utf8')) as { n: number; pad: string };
      } catch (err) {
        throw new Error(`iteration ${i}: file not a complete version: ${String(err)}`);
      }
      expect(parsed.pad).toBe(pad);
      // The version on disk is one the child wrote (it may have finished a write it had not reported yet).
      expect(parsed.n).toBeGreaterThanOrEqual(0);
      expect(parsed.n).toBeLessThanOrEqual(written + 1);
      killsWithFile++;
    }
    expect(killsWithFile).toBe(ITERATIONS);
  }, 180_000);
});

/** A child writes {n, pad} for n = last+1, last+2, … in a tight loop; it is SIGKILLed after `afterMs`. */
async function runWriterAndKill(atomicModule: string, file: string, pad: string, afterMs: number): Promise<number> {
  const script = `
    const { writeFileAtomic } = await import(${JSON.stringify(atomicModule)});
    const fs = await import('node:fs');
    let n = 0;
    try { n = JSON.parse(fs.readFileSync(${JSON.stringify(file)}, 'utf8')).n + 1; } catch {}
    const pad = ${JSON.stringify(pad)};
    await writeFileAtomic(${JSON.stringify(file)}, JSON.stringify({ n, pad }));
    process.stdout.write('ready ' + n + '\\n');
    for (;;) {
      n++;
      await writeFileAtomic(${JSON.stringify(file)}, JSON.stringify({ n, pad }));
      process.stdout.write(n + '\\n');
    }
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let lastReported = -1;
  let buffer = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const m = /(\d+)$/.exec(line);
        if (m) lastReported = Number(m[1]);
        if (line.startsWith('ready')) resolve();
      }
    });
    child.on('exit', () => reject(new Error('writer exited before ready')));
  });
  await new Promise((r) => setTimeout(r, afterMs));
  child.kill('SIGKILL');
  await exited;
  return lastReported;
}
