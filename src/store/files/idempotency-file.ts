/**
 * The file backend of IdempotencyStore: DATA_DIR/accounts/<id>/idempotency.jsonl (0600), append-only —
 * one JSON line per change (a whole record, or `{"key","removed":true}`), fsynced before put() resolves; the
 * newest line of a key wins. Expired keys are dropped when the file is compacted (rewritten atomically with
 * the live records) at open and whenever dead lines outnumber live ones. A torn last line (a crash in the
 * middle of a write) was never acknowledged and is ignored.
 */
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { fsyncDir, moveAside, PRIVATE_FILE_MODE, removeStaleTempFiles, writeFileAtomic } from '@telegram-service/durable-files';
import * as z from 'zod';
import { schemaOnDemand } from '../schema-on-demand.js';
import { claimedMessageId, idempotencyRecordOf, isExpired } from '../idempotency-record.js';
import type { IdempotencyRecord, IdempotencyStore, StoreLog } from '../types.js';
import { readPrivateFile } from './safe-read.js';

export const IDEMPOTENCY_FILE_NAME = 'idempotency.jsonl';
/** Far beyond any real use (a key is a few hundred bytes); a bigger file is set aside, not read. */
const MAX_BYTES = 256 * 1024 * 1024;
const COMPACT_MIN_LINES = 256;

const removalSchema = schemaOnDemand(() => z.object({ key: z.string().min(1).max(256), removed: z.literal(true) }));

export interface FileIdempotencyStoreOptions {
  dir: string;
  log: StoreLog;
  now?: () => number;
}

export function createFileIdempotencyStore(opts: FileIdempotencyStoreOptions): IdempotencyStore {
  return new FileIdempotencyStore(opts);
}

/** Every key in `dir` not expired yet (migrate-store). */
export async function liveRecords(dir: string, log: StoreLog): Promise<IdempotencyRecord[]> {
  const store = new FileIdempotencyStore({ dir, log });
  await store.open();
  await store.close();
  return store.live();
}

class FileIdempotencyStore implements IdempotencyStore {
  private readonly file: string;
  private readonly now: () => number;
  private readonly records = new Map<string, IdempotencyRecord>();
  private lines = 0;
  private handle: fsp.FileHandle | undefined;
  /** Writes one at a time, in order. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: FileIdempotencyStoreOptions) {
    this.file = path.join(opts.dir, IDEMPOTENCY_FILE_NAME);
    this.now = opts.now ?? Date.now;
  }

  async open(): Promise<void> {
    await removeStaleTempFiles(this.file);
    const read = await readPrivateFile(this.file, MAX_BYTES);
    if (read.kind === 'ok') {
      for (const warning of read.warnings) this.opts.log.warn({ file: this.file }, warning);
      for (const text of read.bytes.toString('utf8').split('\n')) this.apply(text);
    } else if (read.kind !== 'absent') {
      const movedTo = await moveAside(this.file, 'corrupt').catch(() => undefined);
      this.opts.log.error({ file: this.file, ...(movedTo ? { movedTo } : {}) }, `${read.detail}; Idempotency-Keys used before are forgotten`);
    }
    this.dropExpired();
    await this.compact();
  }

  private apply(text: string): void {
    if (!text.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return; // a torn last line, never acknowledged
    }
    this.lines++;
    const removal = removalSchema().safeParse(value);
    if (removal.success) {
      this.records.delete(removal.data.key);
      return;
    }
    const record = idempotencyRecordOf(value);
    if (record) this.records.set(record.key, record);
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [key, record] of this.records) if (isExpired(record, now)) this.records.delete(key);
  }

  async get(key: string): Promise<IdempotencyRecord | undefined> {
    const record = this.records.get(key);
    if (!record) return undefined;
    if (isExpired(record, this.now())) return undefined;
    return structuredClone(record);
  }

  put(record: IdempotencyRecord): Promise<void> {
    const copy = structuredClone(record);
    return this.write(JSON.stringify(copy), () => this.records.set(copy.key, copy));
  }

  remove(key: string): Promise<void> {
    if (!this.records.has(key)) return Promise.resolve();
    return this.write(JSON.stringify({ key, removed: true }), () => this.records.delete(key));
  }

  async claimedMessageIds(peer: number): Promise<ReadonlySet<number>> {
    const ids = new Set<number>();
    for (const record of this.records.values()) {
      const id = claimedMessageId(record, peer);
      if (id !== undefined) ids.add(id);
    }
    return ids;
  }

  /** Appends one line durably, then applies the change in memory (so a failed write changes nothing). */
  private write(line: string, applied: () => void): Promise<void> {
    const result = this.tail.then(async () => {
      if (!this.handle) {
        this.handle = await fsp.open(this.file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, PRIVATE_FILE_MODE);
        await fsyncDir(this.opts.dir); // a file just created must survive a crash too
      }
      await this.handle.write(line + '\n');
      await this.handle.datasync();
      this.lines++;
      applied();
      this.dropExpired();
      if (this.lines >= COMPACT_MIN_LINES && this.lines > this.records.size * 2) await this.compact();
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Rewrites the file with the live records only. */
  private async compact(): Promise<void> {
    if (this.lines === this.records.size) return;
    const text = [...this.records.values()].map((r) => JSON.stringify(r) + '\n').join('');
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    if (text === '') {
      await fsp.rm(this.file, { force: true });
      await fsyncDir(this.opts.dir).catch(() => undefined);
    } else {
      await writeFileAtomic(this.file, text);
    }
    this.lines = this.records.size;
  }

  live(): IdempotencyRecord[] {
    return [...this.records.values()].map((record) => structuredClone(record));
  }

  async close(): Promise<void> {
    await this.tail;
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }
}
