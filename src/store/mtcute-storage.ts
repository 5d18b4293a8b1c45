/**
 * An mtcute storage provider (ITelegramStorageProvider) over the session document.
 *
 * mtcute keeps everything in its Memory* repositories here; we sit in front of two of them:
 * - auth keys: a permanent key set or deleted is written to session.json before the call resolves
 *   (mtcute requires "applied immediately"; for us that means durable). Temp (PFS) keys stay in memory.
 * - key-value: only LOGIN_KV_KEYS (dc_main, dc_media, current_user) reach the document; salts
 *   ("salts:<dc>") stay in memory, and the update state ("updates_*") goes to the UpdateStateBinding when
 *   one is given (see update-state-kv.ts), never to session.json.
 * Peers and reference messages are memory only. driver.save() — which mtcute calls after caching peers
 * and from the updates loop — only retries a write that failed earlier; with nothing login-relevant
 * changed it never touches the disk (the store compares document bodies).
 * The store loads this module when a client is first built (it needs mtcute; restoring does not).
 */
import {
  MemoryAuthKeysRepository,
  MemoryKeyValueRepository,
  MemoryPeersRepository,
  MemoryRefMessagesRepository,
  MemoryStorageDriver,
  type IAuthKeysRepository,
  type IKeyValueRepository,
  type IStorageDriver,
  type ITelegramStorageProvider,
} from '@mtcute/core';
import type { DcOptions } from '@mtcute/core/utils.js';
import { serializeDcOption } from './mtcute-values.js';
import { KV_DC_MAIN, KV_DC_MEDIA, LOGIN_KV_KEYS, type SessionDocument } from './session-document.js';
import type { UpdateStateBinding } from './types.js';
import { UpdateStateKv } from './update-state-kv.js';

/** How the provider changes the document: the store applies `change` and persists if the body changed. */
export interface SessionDocumentWriter {
  update(change: (doc: SessionDocument) => void): Promise<void>;
  /** Persist anything not yet on disk (a retry after a failed write); a no-op when clean. */
  save(): Promise<void>;
}

export interface DocumentStorageOptions {
  /** The document's current login data, copied into mtcute's memory. */
  initial: Pick<SessionDocument, 'authKeys' | 'mtcuteKv'>;
  writer: SessionDocumentWriter;
  /**
   * The DCs the client was configured with. mtcute stores dc_main only when the primary DC changes
   * (a *_MIGRATE); with this set, the first permanent key for the primary DC is written together with
   * that DC's address, so session.json always says where its key belongs.
   */
  primaryDcs?: DcOptions;
  /** Where mtcute's updates state starts from and goes to (absent: memory only). */
  updates?: UpdateStateBinding;
}

export function createDocumentStorage(opts: DocumentStorageOptions): ITelegramStorageProvider {
  const memory = new MemoryStorageDriver();
  const kvMemory = new MemoryKeyValueRepository(memory);
  const keysMemory = new MemoryAuthKeysRepository(memory);
  for (const [dcId, key] of opts.initial.authKeys) keysMemory.set(dcId, key.slice());
  for (const [name, value] of opts.initial.mtcuteKv) kvMemory.set(name, value.slice());
  const updateState = new UpdateStateKv(kvMemory, opts.updates);

  const driver: IStorageDriver = {
    load: () => undefined, // already filled from the document
    save: () => {
      // mtcute saves at the end of each updates-loop tick, after dispatching what that state covers.
      updateState.reportSaved();
      return opts.writer.save();
    },
    destroy: () => undefined,
  };
  return {
    driver,
    kv: new LoginFilteringKv(kvMemory, opts.writer, updateState),
    authKeys: new WriteThroughAuthKeys(keysMemory, kvMemory, opts.writer, opts.primaryDcs),
    peers: new MemoryPeersRepository(memory),
    refMessages: new MemoryRefMessagesRepository(memory),
  };
}

class WriteThroughAuthKeys implements IAuthKeysRepository {
  constructor(
    private readonly memory: MemoryAuthKeysRepository,
    private readonly kv: MemoryKeyValueRepository,
    private readonly writer: SessionDocumentWriter,
    private readonly primaryDcs: DcOptions | undefined,
  ) {}

  async set(dc: number, key: Uint8Array | null): Promise<void> {
    this.memory.set(dc, key);
    const seed = key ? this.primaryDcSeed(dc) : undefined;
    if (seed) for (const [name, value] of seed) this.kv.set(name, value);
    const copy = key?.slice();
    await this.writer.update((doc) => {
      if (copy) doc.authKeys.set(dc, copy);
      else doc.authKeys.delete(dc);
      if (seed) for (const [name, value] of seed) doc.mtcuteKv.set(name, value.slice());
    });
  }

  get(dc: number): Uint8Array | null {
    return this.memory.get(dc);
  }

  setTemp(dc: number, idx: number, key: Uint8Array | null, expires: number): void {
    this.memory.setTemp(dc, idx, key, expires); // temp keys are short-lived: memory only
  }

  getTemp(dc: number, idx: number, now: number): Uint8Array | null {
    return this.memory.getTemp(dc, idx, now);
  }

  async deleteByDc(dc: number): Promise<void> {
    this.memory.deleteByDc(dc);
    await this.writer.update((doc) => {
      doc.authKeys.delete(dc);
    });
  }

  async deleteAll(): Promise<void> {
    this.memory.deleteAll();
    await this.writer.update((doc) => {
      doc.authKeys.clear();
    });
  }

  /** dc_main/dc_media to record with the first key of the configured primary DC, if none is recorded. */
  private primaryDcSeed(dc: number): Array<[string, Uint8Array]> | undefined {
    if (!this.primaryDcs || this.primaryDcs.main.id !== dc || this.kv.get(KV_DC_MAIN)) return undefined;
    const seed: Array<[string, Uint8Array]> = [[KV_DC_MAIN, serializeDcOption(this.primaryDcs.main)]];
    // mtcute's own convention: dc_media is absent when media and main are the same option.
    if (this.primaryDcs.media !== this.primaryDcs.main) {
      seed.push([KV_DC_MEDIA, serializeDcOption(this.primaryDcs.media)]);
    }
    return seed;
  }
}

class LoginFilteringKv implements IKeyValueRepository {
  constructor(
    private readonly memory: MemoryKeyValueRepository,
    private readonly writer: SessionDocumentWriter,
    private readonly updateState: UpdateStateKv,
  ) {}

  async set(key: string, value: Uint8Array): Promise<void> {
    this.memory.set(key, value);
    this.updateState.noteSet(key);
    if (!LOGIN_KV_KEYS.has(key)) return;
    const copy = value.slice();
    await this.writer.update((doc) => {
      doc.mtcuteKv.set(key, copy);
    });
  }

  get(key: string): Uint8Array | null {
    return this.memory.get(key);
  }

  async delete(key: string): Promise<void> {
    this.memory.delete(key);
    this.updateState.noteSet(key);
    if (!LOGIN_KV_KEYS.has(key)) return;
    await this.writer.update((doc) => {
      doc.mtcuteKv.delete(key);
    });
  }

  async deleteAll(): Promise<void> {
    this.memory.deleteAll();
    this.updateState.noteCleared();
    await this.writer.update((doc) => {
      doc.mtcuteKv.clear();
    });
  }
}
