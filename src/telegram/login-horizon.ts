/**
 * A fresh login's updates start at the login, not a few round trips after it.
 *
 * mtcute 0.30, with no stored updates state, starts its loop with updates.getState and one getDifference
 * whose messages it drops (`_fetchUpdatesState`), and it drops the pushes queued before that state: what
 * the account received between the login and that getDifference — Telegram's own "new login" notice
 * among it — would be history (GET messages shows it), never an event. Here the state is taken before
 * mtcute is told of the login and moved a little back, so mtcute's catch-up fetches that stretch as a
 * difference, in order, before any live push; what in it is dated before the login (the horizon) is no
 * event. Pushes that arrive while the state is asked for are handed to mtcute once its loop runs. The same
 * holds for a logged-in client that starts without a state: a QR login's session (its own client made it).
 */
import { BaseTelegramClient, type TelegramClient } from '@mtcute/node';
import type { UpdatesManager } from '@mtcute/core';
import type { tl } from '@mtcute/core';

/** How far back (in pts) the catch-up starts: more than a login's few round trips can hold. */
export const LOGIN_BACKFILL_PTS = 50;

/** The account's updates at the moment of the login: pts then, and the first second that counts as after it. */
interface LoginHorizon {
  pts: number;
  date: number;
}

const horizons = new WeakMap<TelegramClient, LoginHorizon>();

type StateCall = (request: tl.updates.RawGetStateRequest) => Promise<tl.updates.RawState>;

/** Clients whose state is being put in place: a second start waits for it, then starts as mtcute's loop runs. */
const seeding = new WeakMap<TelegramClient, Promise<void>>();

/**
 * Tells mtcute of a login (as client.notifyLoggedIn does), its updates loop starting just before the login.
 * For a client without an updates state (a fresh login); one with a state catches up from it.
 */
export function notifyLoggedInAtLogin(client: TelegramClient, auth: tl.auth.TypeAuthorization | tl.RawUser, call: StateCall, now = Date.now): Promise<tl.RawUser> {
  return startingAtHorizon(client, call, now, () => client.notifyLoggedIn(auth));
}

/**
 * Starts mtcute's updates loop (as client.startUpdatesLoop does) on a logged-in client; without an updates
 * state (a QR login's session, which its own client made) it starts just before now, as after a login.
 */
export function startUpdatesLoopAtHorizon(client: TelegramClient, call: StateCall, now = Date.now): Promise<void> {
  return startingAtHorizon(client, call, now, () => client.startUpdatesLoop());
}

/**
 * Runs `start` (which starts mtcute's loop) after putting a state into mtcute's storage: the server's
 * state now, its pts moved LOGIN_BACKFILL_PTS back. Should asking for the state fail, `start` runs
 * anyway and mtcute starts as it would on its own.
 */
async function startingAtHorizon<T>(client: TelegramClient, call: StateCall, now: () => number, start: () => Promise<T>): Promise<T> {
  const base = client._client;
  const manager = base instanceof BaseTelegramClient ? base.updates : undefined;
  if (!manager || manager.updatesLoopActive) return start();
  const running = seeding.get(client);
  if (running) {
    await running.catch(() => undefined);
    return start();
  }
  if ((await client.storage.updates.getState()) !== null) return start();
  const early: tl.TypeUpdates[] = [];
  const hold = (update: tl.TypeUpdates) => {
    if (!manager.updatesLoopActive) early.push(update);
  };
  base.onServerUpdate.add(hold);
  const seeded = seedState(client, manager, call, now);
  seeding.set(client, seeded);
  try {
    await seeded.catch(() => undefined); // not seeded: mtcute starts as it would on its own
    const started = await start();
    for (const update of early.splice(0)) manager.handleUpdate(update);
    return started;
  } finally {
    base.onServerUpdate.remove(hold);
    seeding.delete(client);
  }
}

/** The state as of the login put into mtcute's storage and loop (nothing when the server cannot be asked). */
async function seedState(client: TelegramClient, manager: UpdatesManager, call: StateCall, now: () => number): Promise<void> {
  const asked = now();
  let state: tl.updates.RawState;
  try {
    state = await call({ _: 'updates.getState' });
  } catch {
    return; // mtcute asks for it itself
  }
  if (state.pts < 1) return;
  // Its date is the server's clock at the answer; the login was at most this round trip (and a second of rounding) before.
  const loginDate = state.date - Math.ceil((now() - asked) / 1000) - 1;
  // The pts moved back, the date with them (getDifference takes both).
  await client.storage.updates.setPts(Math.max(1, state.pts - LOGIN_BACKFILL_PTS));
  await client.storage.updates.setQts(state.qts);
  await client.storage.updates.setDate(loginDate);
  await client.storage.updates.setSeq(state.seq);
  await manager.prepare(); // mtcute reads the state into its loop
  horizons.set(client, { pts: state.pts, date: loginDate });
}

/**
 * Whether an update the catch-up of a fresh login fetched is from before the login: a new message dated
 * before the horizon, or a change of the common box (edit, deletion, read mark) at or before its pts —
 * unless it is an edit made after the horizon. Channels keep pts of their own and are not filtered.
 */
export function isBeforeLogin(client: TelegramClient, update: tl.TypeUpdate): boolean {
  const horizon = horizons.get(client);
  if (!horizon) return false;
  switch (update._) {
    case 'updateNewMessage':
      return update.message._ !== 'messageEmpty' && update.message.date < horizon.date;
    case 'updateEditMessage':
      return update.pts <= horizon.pts && editedAt(update.message) < horizon.date;
    case 'updateDeleteMessages':
    case 'updateReadHistoryInbox':
    case 'updateReadHistoryOutbox':
      return update.pts <= horizon.pts;
    default:
      return false;
  }
}

function editedAt(message: tl.TypeMessage): number {
  if (message._ === 'messageEmpty') return 0;
  return message._ === 'message' ? (message.editDate ?? message.date) : message.date;
}
