/**
 * The account's client holder: which clients it dropped. The account never calls a dropped client
 * (account.ts call()): mtcute's connect on a destroyed client rejects a promise of its own that nobody
 * handles (asyncResettable), an unhandled rejection the fuzz run's logout storms once met.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { MemoryStorage } from '@mtcute/core';
import { TelegramClient } from '@mtcute/node';
import { ClientHolder } from '../../src/account/client-holder.js';

const newClient = () => new TelegramClient({ apiId: 1, apiHash: 'unused', storage: new MemoryStorage() });

describe('ClientHolder', () => {
  it('knows the clients it dropped; a client it never held is not one of them', async () => {
    const holder = new ClientHolder({ create: async () => newClient(), logger: pino({ level: 'silent' }) });
    const first = await holder.ensure();
    expect(holder.dropped(first)).toBe(false);
    await holder.drop();
    expect(holder.dropped(first)).toBe(true);
    expect(holder.replaced(first)).toBe(true);
    const second = await holder.ensure();
    expect(second).not.toBe(first);
    expect(holder.dropped(second)).toBe(false);
    const elsewhere = newClient(); // e.g. the QR login's own client
    expect(holder.dropped(elsewhere)).toBe(false);
    expect(holder.replaced(elsewhere)).toBe(true);
    await holder.close();
    await elsewhere.destroy();
  });
});
