/**
 * Updates pushed as Telegram pushes them, seen by unmodified mtcute clients with their updates loop on
 * (mtcute's default): new messages to every session of both sides, catch-up by getDifference after a
 * client was away or pushes were paused (each message once), slices and differenceTooLong, edits,
 * deletions and read marks, and pts kept across a DC restart.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage, type TelegramClient } from '@mtcute/node';
import { loginSandboxClient, startTestSandbox, type TestSandbox } from '../src/testing/sandbox.js';
import { eventually, sleep, updatesLoopReady } from './helpers/eventually.js';
import { afterThisTest, client, sandbox } from './helpers/per-test-sandbox.js';

const ALICE = '+9996621111';
const BOB = '+9996622222';

/** Every new message a client's updates loop dispatches, as "in:text" / "out:text". */
function inbox(c: TelegramClient): string[] {
  const got: string[] = [];
  c.onNewMessage.add((m) => got.push(`${m.isOutgoing ? 'out' : 'in'}:${m.text}`));
  return got;
}

async function loggedIn(dc: TestSandbox, phone: string, opts: Parameters<typeof client>[1] = {}): Promise<TelegramClient> {
  const c = await client(dc, opts);
  await loginSandboxClient(c, dc, phone);
  await updatesLoopReady(c);
  return c;
}

function users(dc: TestSandbox): { alice: number; bob: number } {
  dc.controls.createUser({ phone: ALICE, firstName: 'Alice', username: 'alice_sbx' });
  dc.controls.createUser({ phone: BOB, firstName: 'Bob', username: 'bob_sbx' });
  return { alice: dc.controls.getUser(ALICE)!.id, bob: dc.controls.getUser(BOB)!.id };
}

async function statePts(c: TelegramClient): Promise<number> {
  return (await c.call({ _: 'updates.getState' })).pts;
}

describe('updates pushed to mtcute clients', () => {
  it('a message reaches every session of the recipient and the sender’s other sessions', async () => {
    const dc = await sandbox();
    const { alice } = users(dc);
    const a1 = await loggedIn(dc, ALICE);
    const a2 = await loggedIn(dc, ALICE); // a second device of Alice (its own auth key)
    const b1 = await loggedIn(dc, BOB);
    const b2 = await loggedIn(dc, BOB);
    const [gotA2, gotB1, gotB2] = [inbox(a2), inbox(b1), inbox(b2)];
    const ptsBefore = await statePts(b1);

    const first = await a1.sendText('bob_sbx', 'one');
    expect(first.text).toBe('one');
    await a1.sendText('bob_sbx', 'two');

    await eventually(() => gotB1.length >= 2 && gotB2.length >= 2 && gotA2.length >= 2, 'pushes to both of Bob’s sessions and Alice’s other one');
    expect(gotB1).toEqual(['in:one', 'in:two']);
    expect(gotB2).toEqual(['in:one', 'in:two']);
    expect(gotA2).toEqual(['out:one', 'out:two']);
    expect(await statePts(b1)).toBe(ptsBefore + 2);
    const [last] = await b1.getHistory(alice, { limit: 1 });
    expect(last?.sender.id).toBe(alice);
  });

  it('a client that was away catches up by getDifference on its next start, each message once', async () => {
    const dc = await sandbox();
    users(dc);
    const storage = new MemoryStorage();
    const away = await loggedIn(dc, BOB, { storage, extra: { updates: { catchUp: true } } });
    dc.controls.deliverMessage(ALICE, BOB, 'before');
    await eventually(async () => (await away.getHistory('alice_sbx')).length === 1, 'the first message');
    await sleep(300); // the updates loop stores its pts after each round
    await away.destroy();

    for (const text of ['m1', 'm2', 'm3']) dc.controls.deliverMessage(ALICE, BOB, text);
    const back = await client(dc, { storage, extra: { updates: { catchUp: true } } });
    const got = inbox(back);
    await back.start({});
    await updatesLoopReady(back);
    await eventually(() => got.length >= 3, 'the three missed messages');
    await sleep(1000); // nothing comes twice
    expect(got).toEqual(['in:m1', 'in:m2', 'in:m3']);
  });

  it('paused pushes leave a gap that getDifference fills after resume, each message once', async () => {
    const dc = await sandbox();
    users(dc);
    const b = await loggedIn(dc, BOB);
    const got = inbox(b);

    dc.controls.pausePushes(BOB);
    expect(dc.controls.pushesPaused().users).toEqual([dc.controls.getUser(BOB)!.id]);
    dc.controls.deliverMessage(ALICE, BOB, 'p1');
    dc.controls.deliverMessage(ALICE, BOB, 'p2');
    await sleep(800);
    expect(got).toEqual([]);
    // Resuming sends updatesTooLong to those who missed pushes: the client asks for the difference at once.
    expect(dc.controls.resumePushes(BOB).caughtUp).toEqual([dc.controls.getUser(BOB)!.id]);
    await eventually(() => got.length >= 2, 'the messages sent while paused');

    // Without updatesTooLong, the next push reveals the gap by its pts and the client fills it.
    dc.controls.pausePushes(); // everyone
    dc.controls.deliverMessage(ALICE, BOB, 'p3');
    dc.controls.resumePushes(undefined, { tooLong: false });
    dc.controls.deliverMessage(ALICE, BOB, 'p4');
    await eventually(() => got.length >= 4, 'the gap filled');
    await sleep(800);
    expect(got).toEqual(['in:p1', 'in:p2', 'in:p3', 'in:p4']);
  });

  it('getDifference answers in slices, and differenceTooLong past the gap limit or for a client ahead', async () => {
    const dc = await sandbox();
    users(dc);
    const b = await loggedIn(dc, BOB);
    const got = inbox(b);
    const p0 = await statePts(b);
    dc.controls.setUpdateLimits({ differenceSliceSize: 3 });
    dc.controls.pausePushes(BOB);
    for (let i = 1; i <= 7; i++) dc.controls.deliverMessage(ALICE, BOB, `s${i}`);

    const slice = await b.call({ _: 'updates.getDifference', pts: p0, date: 0, qts: 0 });
    expect(slice._).toBe('updates.differenceSlice');
    if (slice._ !== 'updates.differenceSlice') throw new Error('unreachable');
    expect(slice.newMessages).toHaveLength(3);
    expect(slice.intermediateState.pts).toBe(p0 + 3);

    dc.controls.resumePushes(BOB); // updatesTooLong: mtcute walks the slices itself
    await eventually(() => got.length >= 7, 'all seven messages through three slices');
    await sleep(500);
    expect(got).toEqual(['s1', 's2', 's3', 's4', 's5', 's6', 's7'].map((t) => `in:${t}`));

    expect(dc.controls.setUpdateLimits({ differenceTooLongGap: 5 })).toEqual({ differenceSliceSize: 3, differenceTooLongGap: 5 });
    const tooLong = await b.call({ _: 'updates.getDifference', pts: p0, date: 0, qts: 0 });
    expect(tooLong).toEqual({ _: 'updates.differenceTooLong', pts: p0 + 7 });
    const ahead = await b.call({ _: 'updates.getDifference', pts: p0 + 100, date: 0, qts: 0 });
    expect(ahead).toEqual({ _: 'updates.differenceTooLong', pts: p0 + 7 });
    expect((await b.call({ _: 'updates.getDifference', pts: p0 + 7, date: 0, qts: 0 }))._).toBe('updates.differenceEmpty');
  });

  it('edits, deletions and read marks reach the other side with their pts', async () => {
    const dc = await sandbox();
    const { bob } = users(dc);
    const a = await loggedIn(dc, ALICE);
    const b = await loggedIn(dc, BOB);
    const got = inbox(b);
    const edits: string[] = [];
    b.onEditMessage.add((m) => edits.push(m.text));
    const deleted: number[][] = [];
    b.onDeleteMessage.add((u) => deleted.push(u.messageIds));
    const reads: { outbox: boolean; maxId: number }[] = [];
    a.onHistoryRead.add((u) => reads.push({ outbox: u.isOutbox, maxId: u.maxReadId }));

    const sent = await a.sendText('bob_sbx', 'typo');
    await eventually(() => got.length === 1, 'the message');
    const [bobsCopy] = await b.getHistory('alice_sbx', { limit: 1 });

    const ptsBefore = await statePts(b);
    await a.editMessage({ chatId: bob, message: sent.id, text: 'fixed' });
    await eventually(() => edits.length === 1, 'the edit');
    expect(edits).toEqual(['fixed']);
    expect((await b.getHistory('alice_sbx', { limit: 1 }))[0]?.text).toBe('fixed');

    await b.readHistory('alice_sbx');
    await eventually(() => reads.length === 1, 'the read mark');
    expect(reads).toEqual([{ outbox: true, maxId: sent.id }]);
    expect((await b.call({ _: 'updates.getState' })).unreadCount).toBe(0);

    await a.deleteMessagesById(bob, [sent.id], { revoke: true });
    await eventually(() => deleted.length === 1, 'the deletion');
    expect(deleted).toEqual([[bobsCopy!.id]]);
    expect(await b.getHistory('alice_sbx')).toHaveLength(0);
    // Bob's box took pts for the edit, the read and the deletion.
    expect(await statePts(b)).toBe(ptsBefore + 3);
  });

  it('a client cut off from the DC gets what was sent meanwhile when it reconnects: queued, or by getDifference after a long absence', async () => {
    // A short grace, so "long" is a second here (2 minutes by default).
    const dc = await startTestSandbox({ limits: { pushGraceMs: 300 } });
    afterThisTest(() => dc.dispose());
    users(dc);
    const b = await loggedIn(dc, BOB);
    const got = inbox(b);

    // Within the grace: the push waits in the session for the client's return.
    await dc.controls.stopListening();
    dc.controls.deliverMessage(ALICE, BOB, 'while away');
    await dc.controls.startListening();
    await eventually(() => got.length === 1, 'the queued push');

    // Past the grace: nothing is queued; on return the session is told updatesTooLong and catches up.
    await dc.controls.stopListening();
    await sleep(600);
    dc.controls.deliverMessage(ALICE, BOB, 'long away 1');
    dc.controls.deliverMessage(ALICE, BOB, 'long away 2');
    await dc.controls.startListening();
    await eventually(() => got.length === 3, 'the messages from the long absence');
    await sleep(500);
    expect(got).toEqual(['in:while away', 'in:long away 1', 'in:long away 2']);
  });

  it('keeps messages and pts across a DC restart, and pushes to the reconnected client', async () => {
    let dc = await startTestSandbox();
    afterThisTest(() => dc.dispose());
    users(dc);
    const b = await loggedIn(dc, BOB);
    const got = inbox(b);
    dc.controls.deliverMessage(ALICE, BOB, 'before restart');
    await eventually(() => got.length === 1, 'the first message');
    const pts = await statePts(b);

    dc = await dc.restart();
    expect(await statePts(b)).toBe(pts);
    dc.controls.deliverMessage(ALICE, BOB, 'after restart');
    await eventually(() => got.length === 2, 'the message after the restart');
    await sleep(500);
    expect(got).toEqual(['in:before restart', 'in:after restart']);
  });
});
