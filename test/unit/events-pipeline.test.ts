/**
 * The event pipeline and its neighbours on real files: duplicates dropped before the journal (also after a
 * reopen), the update state journaled only after the events it covers, a reset, a journal that refuses writes
 * (events wait; past the limit they are let go and the account is told to fetch them again), mtcute's state
 * keys through the storage binding, and where webhooks may point (including an answer that changes between
 * the check and the connection).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { MemoryKeyValueRepository, MemoryStorageDriver } from '@mtcute/core';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { allowListEntryProblem } from '../../src/config/allow-list.js';
import { AccountEvents } from '../../src/events/account-events.js';
import { isPublicAddress, WebhookAllowList, WebhookTargetPolicy } from '../../src/events/webhook-target.js';
import { createFileEventJournal } from '../../src/store/files/event-journal.js';
import type { EventJournal, UpdateState } from '../../src/store/types.js';
import { UpdateStateKv } from '../../src/store/update-state-kv.js';
import { quietStoreLog as quiet } from '../helpers/store-log.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const logger = pino({ level: 'silent' });
const journalDir = tempDirs('pipeline-', 'events');

function fileJournal(dir: string): EventJournal {
  return createFileEventJournal({ dir, log: quiet, retention: { maxBytes: 64 * 1024 * 1024, maxAgeMs: 0 } });
}

/** `journal`, whose appends fail with ENOSPC while `failing()` says so (a full disk). */
function failingWhen(journal: EventJournal, failing: () => boolean): EventJournal {
  return {
    open: () => journal.open(),
    read: (afterId, limit) => journal.read(afterId, limit),
    bounds: () => journal.bounds(),
    bytes: () => journal.bytes(),
    applyRetention: (now) => journal.applyRetention(now),
    close: () => journal.close(),
    append: (events, state) => (failing() ? Promise.reject(Object.assign(new Error('no space'), { code: 'ENOSPC' })) : journal.append(events, state)),
  };
}

const message = (id: number) => ({ type: 'message.new' as const, key: `n:7:${id}`, data: { message: { id } } });
const state = (pts: number): UpdateState => ({ pts, qts: 0, date: 1000 + pts, seq: 0 });

describe('AccountEvents', () => {
  it('drops an update seen before (also after a reopen), journals the state after the events it covers, and resets', async () => {
    const dir = await journalDir();
    const events = new AccountEvents({ accountId: 'a', journal: fileJournal(dir), logger });
    await events.open();
    const binding = events.updateStateBinding();
    expect(binding.initial).toBeNull();
    expect(events.add(message(1))).toBe(true);
    expect(events.add(message(1))).toBe(false);
    expect(events.add(message(2))).toBe(true);
    binding.saved(state(2));
    await events.flush();
    expect(events.bounds()).toEqual({ firstId: 1, lastId: 2 });
    await events.close();

    // On disk: the events, then the state that covers them.
    const [segment] = await fsp.readdir(dir);
    const lines = (await fsp.readFile(path.join(dir, segment!), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => ('state' in l ? `state ${(l.state as UpdateState | null)?.pts ?? null}` : `event ${l.id}`))).toEqual(['state null', 'event 1', 'event 2', 'state 2']);

    const again = new AccountEvents({ accountId: 'a', journal: fileJournal(dir), logger });
    await again.open();
    expect(again.updateStateBinding().initial).toEqual(state(2));
    expect(again.add(message(2))).toBe(false); // what catching up brings again
    expect(again.add(message(3))).toBe(true);
    const before = again.updateStateBinding();
    await again.reset();
    expect(again.updateStateBinding().initial).toBeNull();
    expect(again.add(message(2))).toBe(true); // another session's ids mean nothing to the old keys
    // A state saved by a client of the session before the reset is ignored.
    before.saved(state(99));
    await again.flush();
    expect((await again.read(0, 10)).map((e) => e.id)).toEqual([1, 2, 3, 4]);
    await again.close();
    const third = new AccountEvents({ accountId: 'a', journal: fileJournal(dir), logger });
    await third.open();
    expect(third.updateStateBinding().initial).toBeNull();
    await third.close();
  });

  it('readers are woken only once events are on disk, and see them in order as wire events', async () => {
    const events = new AccountEvents({ accountId: 'acc', journal: fileJournal(await journalDir()), logger });
    await events.open();
    const seen: number[] = [];
    events.subscribe(() => seen.push(events.bounds().lastId));
    for (let i = 1; i <= 5; i++) events.add(message(i));
    expect(seen).toEqual([]);
    await events.flush();
    expect(seen.at(-1)).toBe(5);
    const [first] = await events.read(0, 1);
    expect(events.toWire(first!)).toMatchObject({ id: 1, type: 'message.new', account: 'acc', message: { id: 1 } });
    expect(Date.parse(events.toWire(first!).at)).toBeGreaterThan(0);
    await events.close();
  });

  it('an update and the state mtcute saves after it, in the same turn, are one append (one write, one fsync)', async () => {
    const journal = fileJournal(await journalDir());
    const appends: Array<{ ids: string[]; state: UpdateState | null | undefined }> = [];
    const counting: EventJournal = { ...failingWhen(journal, () => false), append: (events, s) => (appends.push({ ids: events.map((e) => e.key), state: s }), journal.append(events, s)) };
    const events = new AccountEvents({ accountId: 'a', journal: counting, logger });
    await events.open();
    const binding = events.updateStateBinding();
    events.add(message(1));
    // mtcute's updates loop: the dispatch, then its own awaits (in memory), then the save.
    for (let i = 0; i < 10; i++) await Promise.resolve();
    binding.saved(state(1));
    await events.flush();
    expect(appends).toEqual([{ ids: ['n:7:1'], state: state(1) }]);
    await events.close();
  });

  it('while the journal refuses writes, events wait (and the state does not advance); it says so in its status', async () => {
    const journal = fileJournal(await journalDir());
    let failing = true;
    const flaky = failingWhen(journal, () => failing);
    const events = new AccountEvents({ accountId: 'a', journal: flaky, logger });
    await events.open();
    events.add(message(1));
    events.updateStateBinding().saved(state(1));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(events.status()).toMatchObject({ lastId: 0, pending: 1, error: { message: expect.stringContaining('ENOSPC') } });
    failing = false;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await events.flush();
    expect(events.status()).toEqual({ firstId: 1, lastId: 1, pending: 0 });
    await events.close();
  });
});

describe('AccountEvents past its limit of waiting events', () => {
  it('lets events go without remembering them, keeps the state where the journal is, and asks for a resync once it can write', async () => {
    const journal = fileJournal(await journalDir());
    let failing = false;
    const flaky = failingWhen(journal, () => failing);
    const events = new AccountEvents({ accountId: 'a', journal: flaky, logger, maxPending: 2 });
    await events.open();
    let resyncs = 0;
    events.onResyncNeeded = () => resyncs++;
    const binding = events.updateStateBinding();
    events.add(message(1));
    binding.saved(state(1));
    await events.flush();
    failing = true;
    for (let i = 2; i <= 5; i++) events.add(message(i)); // 2 and 3 wait; 4 and 5 are let go
    binding.saved(state(5)); // covers events let go: never journaled
    expect(events.updateStateBinding().initial).toEqual(state(1)); // a new client catches up from the journaled state
    failing = false;
    await new Promise((resolve) => setTimeout(resolve, 600));
    await events.flush();
    expect(resyncs).toBe(1);
    expect((await events.read(0, 10)).map((e) => (e.data.message as { id: number }).id)).toEqual([1, 2, 3]);
    // Caught up again by the new client: 4 and 5 are new to the pipeline, 3 is a duplicate.
    const resynced = events.updateStateBinding();
    expect([3, 4, 5].map((i) => events.add(message(i)))).toEqual([false, true, true]);
    resynced.saved(state(5));
    await events.flush();
    expect((await events.read(0, 10)).map((e) => (e.data.message as { id: number }).id)).toEqual([1, 2, 3, 4, 5]);
    await events.close();
  });
});

describe("mtcute's update state through the storage binding", () => {
  it('starts mtcute from the given state and reports a changed state when mtcute saves, channels included', () => {
    const memory = new MemoryKeyValueRepository(new MemoryStorageDriver());
    const reported: UpdateState[] = [];
    const kv = new UpdateStateKv(memory, { initial: { ...state(5), channels: { '123': 40 } }, saved: (s) => reported.push(s) });
    const int = (key: string): number | undefined => {
      const bytes = memory.get(key);
      return bytes ? new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, true) : undefined;
    };
    expect([int('updates_pts'), int('updates_qts'), int('updates_date'), int('updates_seq'), int('updates_channel:123')]).toEqual([5, 0, 1005, 0, 40]);
    kv.reportSaved();
    expect(reported).toEqual([]); // nothing changed
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setInt32(0, 9, true);
    memory.set('updates_pts', bytes);
    memory.set('updates_channel:456', bytes);
    kv.noteSet('updates_channel:456');
    kv.reportSaved();
    expect(reported).toEqual([{ pts: 9, qts: 0, date: 1005, seq: 0, channels: { '123': 40, '456': 9 } }]);
    // Without a binding: memory only, nothing reported, nothing thrown.
    new UpdateStateKv(memory, undefined).reportSaved();
  });
});

describe('webhook targets', () => {
  it('tells public addresses from loopback, private, link-local, reserved and mapped ones', () => {
    for (const address of ['1.1.1.1', '8.8.8.8', '2606:4700:4700::1111']) expect(isPublicAddress(address), address).toBe(true);
    for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd12::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '64:ff9b::a9fe:a9fe', 'not-an-ip']) {
      expect(isPublicAddress(address), address).toBe(false);
    }
  });

  it('checks the addresses a host resolves to, and again at connect time (an answer that changed is refused)', async () => {
    let answer = '93.184.216.34';
    const policy = new WebhookTargetPolicy(new WebhookAllowList(['hooks.internal', '10.9.0.0/16']), async () => [{ address: answer, family: 4 }]);
    await expect(policy.check(new URL('https://public.example/hook'), 'account')).resolves.toBeUndefined();
    answer = '10.0.0.5';
    await expect(policy.check(new URL('https://public.example/hook'), 'account')).rejects.toMatchObject({ code: 'WEBHOOK_URL_FORBIDDEN' });
    await expect(policy.check(new URL('https://public.example/hook'), 'admin')).resolves.toBeUndefined();
    await expect(policy.check(new URL('http://hooks.internal/'), 'account')).resolves.toBeUndefined();
    answer = '10.9.1.1';
    await expect(policy.check(new URL('https://public.example/hook'), 'account')).resolves.toBeUndefined();

    // Checked when set, rebound before the connection: the connection is refused.
    answer = '93.184.216.34';
    await policy.check(new URL('https://rebind.example/'), 'account');
    answer = '127.0.0.1';
    const lookup = policy.lookupFor('account', 'rebind.example');
    const outcome = await new Promise<unknown>((resolve) => (lookup as (h: string, o: object, cb: (err: unknown) => void) => void)('rebind.example', {}, resolve));
    expect(outcome).toMatchObject({ code: 'WEBHOOK_URL_FORBIDDEN' });
  });

  it('WEBHOOK_ALLOWED_HOSTS entries are checked', () => {
    for (const ok of ['hooks.internal', '10.0.0.0/8', '127.0.0.1', 'fd00::/8', '::1']) expect(allowListEntryProblem(ok), ok).toBeUndefined();
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'a/b/c', 'http://x', 'x y']) expect(allowListEntryProblem(bad), bad).toBeDefined();
  });
});
