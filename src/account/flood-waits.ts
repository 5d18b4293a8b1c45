/**
 * FLOOD_WAIT deadlines per method, kept in session.json's meta so a restart does not forget them:
 * a call before its deadline fails at once, without touching Telegram.
 */
import type { SessionMeta, SessionStore } from '../store/types.js';

/** Whole seconds left to wait before `method` may be called again (0 = go ahead). */
export function floodWaitRemainingSeconds(store: SessionStore, method: string, now = Date.now()): number {
  const until = store.meta()?.floodWaits?.[method];
  if (until === undefined || until <= now) return 0;
  return Math.ceil((until - now) / 1000);
}

/** The latest deadline still ahead of us, if any (for status: read on every GET status, so no arrays). */
export function latestFloodWait(meta: SessionMeta | undefined, now = Date.now()): number | undefined {
  let latest: number | undefined;
  for (const method in meta?.floodWaits) {
    const until = meta.floodWaits[method]!;
    if (until > now && (latest === undefined || until > latest)) latest = until;
  }
  return latest;
}

/** Deadlines still ahead of us (expired ones dropped). */
export function activeFloodWaits(store: SessionStore, now = Date.now()): Record<string, number> {
  const active: Record<string, number> = {};
  for (const [method, until] of Object.entries(store.meta()?.floodWaits ?? {})) {
    if (until > now) active[method] = until;
  }
  return active;
}

export async function recordFloodWait(store: SessionStore, method: string, seconds: number, now = Date.now()): Promise<void> {
  await store.updateMeta({ floodWaits: { ...activeFloodWaits(store, now), [method]: now + seconds * 1000 } });
}
