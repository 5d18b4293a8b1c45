/**
 * A client without an auth key must first make one with the DC (the key exchange). A request sent in the
 * meantime is queued by mtcute, and when its updates loop is off (ours is) nothing sends that queue when
 * the key is ready but a flush timer mtcute arms for one second: a first send-code on a fresh data
 * directory took a second longer than the exchange. So a client built without a key starts the exchange
 * at once, and the first requests wait for the key (stored through the storage provider) before they are
 * handed to mtcute, which then sends them straight away. Not covered: a request that mtcute itself sends
 * again on another DC after a *_MIGRATE answer, whose new key exchange still waits for that timer.
 */
import type { IAuthKeysRepository, ITelegramStorageProvider } from '@mtcute/core';
import type { TelegramClient } from '@mtcute/node';

/** The key exchange a client is waiting for, until its key is stored. */
const pendingKeyExchanges = new WeakMap<TelegramClient, Promise<void>>();

/** `storage` with its permanent-key writes observed: `stored` resolves once a key for `dcId` is written. */
export function observeFirstKey(storage: ITelegramStorageProvider, dcId: number): { storage: ITelegramStorageProvider; stored: Promise<void> } {
  let resolve!: () => void;
  const stored = new Promise<void>((r) => (resolve = r));
  const inner = storage.authKeys;
  const authKeys: IAuthKeysRepository = {
    set: async (dc, key) => {
      await inner.set(dc, key);
      if (key && dc === dcId) resolve();
    },
    get: (dc) => inner.get(dc),
    setTemp: (dc, idx, key, expires) => inner.setTemp(dc, idx, key, expires),
    getTemp: (dc, idx, now) => inner.getTemp(dc, idx, now),
    deleteByDc: (dc) => inner.deleteByDc(dc),
    deleteAll: () => inner.deleteAll(),
  };
  return { storage: { driver: storage.driver, kv: storage.kv, authKeys, peers: storage.peers, refMessages: storage.refMessages }, stored };
}

/** Starts `client`'s key exchange now; its first requests wait for `stored` (see keyExchangeOf). */
export function startKeyExchange(client: TelegramClient, stored: Promise<void>): void {
  pendingKeyExchanges.set(client, stored);
  void stored.then(() => pendingKeyExchanges.delete(client));
  client.connect().catch(() => undefined); // a failure here fails the first request, which says why
}

/** The key exchange `client`'s requests must wait for, if one is under way. */
export function keyExchangeOf(client: TelegramClient): Promise<void> | undefined {
  return pendingKeyExchanges.get(client);
}
