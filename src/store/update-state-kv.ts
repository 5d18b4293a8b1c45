/**
 * mtcute's updates state in its key-value storage (mtcute 0.30's UpdatesStateService): `updates_pts`,
 * `updates_qts`, `updates_date`, `updates_seq` as int32 LE and `updates_channel:<id>` as uint32 LE.
 * The state is put into mtcute's memory from an UpdateStateBinding before the client starts, and reported
 * to it when mtcute saves — never written to session.json.
 */
import type { MemoryKeyValueRepository } from '@mtcute/core';
import type { UpdateState, UpdateStateBinding } from './types.js';

const KV_PTS = 'updates_pts';
const KV_QTS = 'updates_qts';
const KV_DATE = 'updates_date';
const KV_SEQ = 'updates_seq';
const KV_CHANNEL_PREFIX = 'updates_channel:';
/** A channel id is a positive integer; anything else in the key is not ours to report. */
const CHANNEL_ID = /^[1-9][0-9]{0,15}$/;

export class UpdateStateKv {
  private readonly channelKeys = new Set<string>();
  private lastReported: string | undefined;

  constructor(
    private readonly memory: MemoryKeyValueRepository,
    private readonly binding: UpdateStateBinding | undefined,
  ) {
    const initial = binding?.initial;
    if (!initial) return;
    this.memory.set(KV_PTS, int32(initial.pts));
    this.memory.set(KV_QTS, int32(initial.qts));
    this.memory.set(KV_DATE, int32(initial.date));
    this.memory.set(KV_SEQ, int32(initial.seq));
    for (const [channelId, pts] of Object.entries(initial.channels ?? {})) {
      if (!CHANNEL_ID.test(channelId)) continue;
      this.memory.set(KV_CHANNEL_PREFIX + channelId, uint32(pts));
      this.channelKeys.add(KV_CHANNEL_PREFIX + channelId);
    }
    this.lastReported = JSON.stringify(initial);
  }

  /** A key was set or deleted in mtcute's key-value storage. */
  noteSet(key: string): void {
    if (key.startsWith(KV_CHANNEL_PREFIX)) this.channelKeys.add(key);
  }

  noteCleared(): void {
    this.channelKeys.clear();
  }

  /** mtcute saved: the state in its memory now covers everything it dispatched; tell the binding if it changed. */
  reportSaved(): void {
    if (!this.binding) return;
    const state = this.current();
    if (!state) return;
    const text = JSON.stringify(state);
    if (text === this.lastReported) return;
    this.lastReported = text;
    this.binding.saved(state);
  }

  private current(): UpdateState | undefined {
    const pts = readInt32(this.memory.get(KV_PTS));
    const qts = readInt32(this.memory.get(KV_QTS));
    const date = readInt32(this.memory.get(KV_DATE));
    const seq = readInt32(this.memory.get(KV_SEQ));
    if (pts === undefined || qts === undefined || date === undefined || seq === undefined) return undefined;
    const state: UpdateState = { pts, qts, date, seq };
    const channels: Record<string, number> = {};
    for (const key of [...this.channelKeys].sort()) {
      const channelId = key.slice(KV_CHANNEL_PREFIX.length);
      const channelPts = readUint32(this.memory.get(key));
      if (CHANNEL_ID.test(channelId) && channelPts !== undefined) channels[channelId] = channelPts;
    }
    if (Object.keys(channels).length > 0) state.channels = channels;
    return state;
  }
}

function int32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setInt32(0, value, true);
  return bytes;
}

function uint32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

function readInt32(bytes: Uint8Array | null): number | undefined {
  if (!bytes || bytes.length < 4) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, true);
}

function readUint32(bytes: Uint8Array | null): number | undefined {
  if (!bytes || bytes.length < 4) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
}
