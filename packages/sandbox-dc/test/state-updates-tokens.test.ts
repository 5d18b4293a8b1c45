/**
 * The state behind updates and token logins, without a network: box event logs and what getDifference
 * answers, edits/deletions/read marks in both boxes, QR login tokens and future auth tokens on a
 * test clock, and that all of it survives a reopen of the data dir with no token stored in the clear.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FutureAuthTokens, MAX_FUTURE_AUTH_TOKENS_PER_USER } from '../src/state/future-auth-tokens.js';
import { LoginTokens } from '../src/state/login-tokens.js';
import { INITIAL_PTS, MessageStore } from '../src/state/messages.js';
import { SandboxState } from '../src/state/sandbox-state.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const limits = { sliceSize: 100, tooLongGap: 1000 };

describe('message boxes and their event logs', () => {
  it('answers getDifference: empty, events, slices, tooLong for a big gap or a client ahead', () => {
    const m = new MessageStore();
    const p0 = m.pts(1);
    expect(p0).toBe(INITIAL_PTS);
    expect(m.difference(1, p0, limits)).toEqual({ kind: 'empty', pts: p0 });
    for (let i = 0; i < 5; i++) m.send(2, 1, `m${i}`);
    const all = m.difference(1, p0, limits);
    expect(all).toMatchObject({ kind: 'events', statePts: p0 + 5, final: true });
    const slice = m.difference(1, p0, { ...limits, sliceSize: 2 });
    expect(slice).toMatchObject({ kind: 'events', statePts: p0 + 2, final: false });
    expect(m.difference(1, p0 + 2, { ...limits, sliceSize: 2 })).toMatchObject({ statePts: p0 + 4, final: false });
    expect(m.difference(1, p0, { ...limits, tooLongGap: 4 })).toEqual({ kind: 'tooLong', pts: p0 + 5 });
    expect(m.difference(1, p0 + 9, limits)).toEqual({ kind: 'tooLong', pts: p0 + 5 });
  });

  it('edits and deletes both copies, maps read marks to the peer’s ids, and refuses what Telegram refuses', () => {
    const m = new MessageStore();
    m.send(1, 3, 'to someone else'); // gives box 1 an extra id so the two boxes' ids differ
    const { sent, received } = m.send(1, 2, 'hello');
    expect(sent.id).toBe(2);
    expect(received!.id).toBe(1);
    expect(m.edit(2, 1, received!.id, 'x')).toEqual({ ok: false, error: 'MESSAGE_AUTHOR_REQUIRED' });
    expect(m.edit(1, 2, 99, 'x')).toEqual({ ok: false, error: 'MESSAGE_ID_INVALID' });
    expect(m.edit(1, 2, sent.id, 'hello')).toEqual({ ok: false, error: 'MESSAGE_NOT_MODIFIED' });
    const edited = m.edit(1, 2, sent.id, 'hello!');
    expect(edited.ok && edited.changes.map((c) => [c.ownerId, c.detail.id, c.detail.text])).toEqual([
      [1, 2, 'hello!'],
      [2, 1, 'hello!'],
    ]);

    const read = m.readHistory(2, 1, 0);
    expect(read?.inbox.detail).toEqual({ maxId: 1, stillUnread: 0 });
    expect(read?.outbox).toMatchObject({ ownerId: 1, detail: { maxId: sent.id } });
    expect(m.readHistory(2, 1, 0)).toBeUndefined(); // nothing new to read
    expect(m.dialogs(1).find((d) => d.peerId === 2)?.readOutboxMaxId).toBe(sent.id);

    const deleted = m.delete(1, [sent.id, 12345], true);
    expect(deleted.map((c) => [c.ownerId, c.detail])).toEqual([
      [1, [sent.id]],
      [2, [received!.id]],
    ]);
    expect(m.delete(1, [sent.id], true)).toEqual([]);
    // Box 2: new, read, edit... every change took one pts.
    expect(m.pts(2)).toBe(INITIAL_PTS + 4);
  });

  it('gives state files from before the event log an event per stored message', () => {
    const m = new MessageStore();
    m.restore({ boxes: [{ userId: 1, lastMessageId: 2, pts: 2, messages: [
      { id: 1, peerId: 2, fromId: 2, out: false, date: 1, text: 'a', pts: 1 },
      { id: 2, peerId: 2, fromId: 2, out: false, date: 2, text: 'b', pts: 2 },
    ] }] });
    expect(m.difference(1, 0, limits)).toMatchObject({ kind: 'events', statePts: 2 });
  });
});

describe('QR login tokens', () => {
  it('repeats a pending token until it expires, then makes a new one; migration tokens are one DC’s', () => {
    let now = 1_000_000;
    const t = new LoginTokens(() => {}, () => now);
    t.lifetimeMs = 30_000;
    const first = t.export('k1', 2, []);
    expect(first.expires).toBe(Math.ceil((now + 30_000) / 1000));
    expect(Buffer.from(t.export('k1', 2, []).token)).toEqual(Buffer.from(first.token));
    now += 31_000;
    expect(t.find(first.token)).toEqual({ ok: false, error: 'AUTH_TOKEN_EXPIRED' });
    const second = t.export('k1', 2, ['7']);
    expect(Buffer.from(second.token)).not.toEqual(Buffer.from(first.token));
    const found = t.find(second.token);
    if (!found.ok) throw new Error('unexpected');
    expect(found.record.exceptIds).toEqual(['7']);
    expect(t.latestPending()?.digest).toBe(found.record.digest);

    t.accept(found.record, 42);
    expect(t.acceptedFor('k1')?.userId).toBe(42);
    const migrate = t.issueMigration(42, 1);
    const m = t.find(migrate);
    expect(m.ok && m.record).toMatchObject({ kind: 'migrate', dcId: 1, userId: 42 });
    now += 3 * 60_000;
    expect(t.find(migrate)).toEqual({ ok: false, error: 'AUTH_TOKEN_EXPIRED' });
    expect(t.find(new Uint8Array(5))).toEqual({ ok: false, error: 'AUTH_TOKEN_INVALID' });
  });
});

describe('future auth tokens', () => {
  it('redeem once, per user, before they expire; a user keeps the newest 20', () => {
    let now = 0;
    const f = new FutureAuthTokens(() => {}, () => now);
    f.lifetimeMs = 1000;
    const a = f.issue(1);
    expect(f.redeem([a], 2)).toBe(false); // another user's
    expect(f.redeem([new Uint8Array(32), a], 1)).toBe(true);
    expect(f.redeem([a], 1)).toBe(false); // used up
    const b = f.issue(1);
    now += 1000;
    expect(f.redeem([b], 1)).toBe(false); // expired
    now = 5000;
    const many = Array.from({ length: MAX_FUTURE_AUTH_TOKENS_PER_USER + 3 }, () => f.issue(1));
    expect(f.countFor(1)).toBe(MAX_FUTURE_AUTH_TOKENS_PER_USER);
    expect(f.redeem([many[0]!], 1)).toBe(false); // evicted
    expect(f.redeem([many.at(-1)!], 1)).toBe(true);
  });
});

describe('persistence', () => {
  it('keeps boxes with their events, read marks, login and future tokens across a reopen, tokens only as digests', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-state-'));
    dirs.push(dir);
    const s1 = new SandboxState({ dataDir: dir });
    const alice = s1.accounts.create({ phone: '15550009001' });
    const bob = s1.accounts.create({ phone: '15550009002' });
    s1.messages.send(alice.id, bob.id, 'one');
    s1.messages.send(alice.id, bob.id, 'two');
    s1.messages.readHistory(bob.id, alice.id, 0);
    const qr = s1.loginTokens.export('0011223344556677', 2, []);
    const qrFound = s1.loginTokens.find(qr.token);
    if (!qrFound.ok) throw new Error('unexpected');
    s1.loginTokens.accept(qrFound.record, alice.id);
    const future = s1.futureAuthTokens.issue(alice.id);
    await s1.close();

    const text = readFileSync(join(dir, 'state.json'), 'utf8');
    for (const token of [qr.token, future]) {
      expect(text).not.toContain(Buffer.from(token).toString('base64'));
      expect(text).not.toContain(Buffer.from(token).toString('hex'));
    }

    const s2 = new SandboxState({ dataDir: dir });
    expect(s2.messages.pts(bob.id)).toBe(INITIAL_PTS + 3);
    expect(s2.messages.difference(bob.id, INITIAL_PTS, limits)).toMatchObject({ kind: 'events', statePts: INITIAL_PTS + 3 });
    expect(s2.messages.unreadCount(bob.id)).toBe(0);
    expect(s2.loginTokens.acceptedFor('0011223344556677')?.userId).toBe(alice.id);
    expect(s2.futureAuthTokens.redeem([future], alice.id)).toBe(true);
    await s2.close();
  });
});
