/**
 * Changes to message boxes, and the updates Telegram pushes for them: every change is stored (with
 * its pts) and then pushed to every live session of the box owner's keys on the owner's home DC —
 * except the session whose request caused it, which gets the change as its answer.
 *
 *   private message     → updateShortMessage (or `updates` with the users, on a dialog's first message)
 *   edit / delete       → updates{updateEditMessage} / updates{updateDeleteMessages}
 *   read                → updates{updateReadHistoryInbox} to the reader, updates{updateReadHistoryOutbox} to the peer
 *   QR token accepted   → updateShort{updateLoginToken} to the key that exported it
 *
 * Pushes can be paused (for one user or all) through the controls: paused updates are dropped, as a
 * lossy network would, and the client must catch up with updates.getDifference; on resume the users
 * that missed something get updatesTooLong, which makes clients ask at once.
 */
import type { tl } from '@mtcute/core';
import type { SandboxState } from '../state/sandbox-state.js';
import type { BoxChange, StoredMessage } from '../state/messages.js';
import type { LiveSessions, PushOptions, TlObject } from '../types.js';
import { messageToTl, peerUser, usersToTl } from './tl-objects.js';

export interface UpdateLimits {
  /** Most events one updates.getDifference answer carries; more make a differenceSlice. */
  differenceSliceSize: number;
  /** A client further behind than this many pts gets differenceTooLong. */
  differenceTooLongGap: number;
}

export const DEFAULT_UPDATE_LIMITS: UpdateLimits = { differenceSliceSize: 100, differenceTooLongGap: 5_000 };

/** The session a change came from (it gets the change as its answer, not as a push). */
export type Origin = PushOptions['except'];

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export class UpdateFeed {
  readonly limits: UpdateLimits;
  private pausedForAll = false;
  private readonly pausedUsers = new Set<number>();
  /** Users whose pushes were dropped while paused. */
  private readonly missed = new Set<number>();

  constructor(
    private readonly state: SandboxState,
    private readonly sessions: LiveSessions,
    limits: Partial<UpdateLimits> = {},
  ) {
    this.limits = { ...DEFAULT_UPDATE_LIMITS, ...limits };
  }

  /** A private message (or a note to self): stored in both boxes, pushed to both sides. */
  sendMessage(fromId: number, toId: number, text: string, origin?: Origin): { sent: StoredMessage; received?: StoredMessage } {
    const delivered = this.state.messages.send(fromId, toId, text);
    this.pushNewMessage(fromId, delivered.sent, origin);
    if (delivered.received) this.pushNewMessage(toId, delivered.received);
    return delivered;
  }

  /** Edits an outgoing message; returns the editor's change (its answer) or the Telegram error. */
  editMessage(ownerId: number, peerId: number, messageId: number, text: string, origin?: Origin): ReturnType<SandboxState['messages']['edit']> {
    const edited = this.state.messages.edit(ownerId, peerId, messageId, text);
    if (edited.ok) for (const change of edited.changes) this.pushToUser(change.ownerId, this.editUpdates(change), origin);
    return edited;
  }

  /** Deletes messages (and, with revoke, the peers' copies); returns the deleter's change, if anything was deleted. */
  deleteMessages(ownerId: number, ids: number[], revoke: boolean, origin?: Origin): BoxChange<number[]> | undefined {
    const changes = this.state.messages.delete(ownerId, ids, revoke);
    for (const change of changes) {
      const e = change.event;
      if (e.kind !== 'delete') continue;
      const update: tl.RawUpdateDeleteMessages = { _: 'updateDeleteMessages', messages: change.detail, pts: e.pts, ptsCount: e.ptsCount };
      this.pushToUser(change.ownerId, this.container(update, []), origin);
    }
    return changes.find((c) => c.ownerId === ownerId);
  }

  /** messages.readHistory: returns the reader's change, if anything new was read. */
  readHistory(ownerId: number, peerId: number, maxId: number, origin?: Origin): BoxChange<{ maxId: number; stillUnread: number }> | undefined {
    const read = this.state.messages.readHistory(ownerId, peerId, maxId);
    if (!read) return undefined;
    const inbox: tl.RawUpdateReadHistoryInbox = {
      _: 'updateReadHistoryInbox',
      peer: peerUser(peerId),
      maxId: read.inbox.detail.maxId,
      stillUnreadCount: read.inbox.detail.stillUnread,
      pts: read.inbox.event.pts,
      ptsCount: 1,
    };
    this.pushToUser(ownerId, this.container(inbox, [ownerId, peerId], ownerId), origin);
    if (read.outbox) {
      const outbox: tl.RawUpdateReadHistoryOutbox = {
        _: 'updateReadHistoryOutbox',
        peer: peerUser(ownerId),
        maxId: read.outbox.detail.maxId,
        pts: read.outbox.event.pts,
        ptsCount: 1,
      };
      this.pushToUser(peerId, this.container(outbox, [peerId, ownerId], peerId));
    }
    return read.inbox;
  }

  /** updateLoginToken to the key that exported an accepted QR token (not subject to pausing: it is no message). */
  loginTokenAccepted(authKeyId: string): void {
    const update: tl.RawUpdateShort = { _: 'updateShort', update: { _: 'updateLoginToken' }, date: nowSeconds() };
    this.sessions.push([authKeyId], update as unknown as TlObject, { evenWithoutUpdates: true });
  }

  /** The `updates` an edit is pushed (and answered) as. */
  editUpdates(change: BoxChange<StoredMessage>): tl.RawUpdates {
    const m = change.detail;
    const update: tl.RawUpdateEditMessage = { _: 'updateEditMessage', message: messageToTl(m), pts: change.event.pts, ptsCount: 1 };
    return this.container(update, [change.ownerId, m.fromId, m.peerId], change.ownerId);
  }

  /** Stops pushing to one user (or to everyone); their clients must catch up by getDifference. */
  pause(userId?: number): void {
    if (userId === undefined) this.pausedForAll = true;
    else this.pausedUsers.add(userId);
  }

  /**
   * Pushes again (to one user, or everyone: `userId` omitted also lifts every per-user pause). With
   * `tooLong` (default), users who missed pushes get updatesTooLong. Returns those users.
   */
  resume(userId?: number, opts: { tooLong?: boolean } = {}): number[] {
    if (userId === undefined) {
      this.pausedForAll = false;
      this.pausedUsers.clear();
    } else {
      this.pausedUsers.delete(userId);
    }
    const caughtUp = [...this.missed].filter((id) => (userId === undefined || id === userId) && !this.isPaused(id));
    for (const id of caughtUp) {
      this.missed.delete(id);
      if (opts.tooLong !== false) this.pushToUser(id, { _: 'updatesTooLong' });
    }
    return caughtUp;
  }

  pausedState(): { all: boolean; users: number[] } {
    return { all: this.pausedForAll, users: [...this.pausedUsers] };
  }

  private isPaused(userId: number): boolean {
    return this.pausedForAll || this.pausedUsers.has(userId);
  }

  /** A new message in `ownerId`'s box, as Telegram pushes it to the owner's sessions. */
  private pushNewMessage(ownerId: number, m: StoredMessage, origin?: Origin): void {
    // A dialog's first message carries the users, so a client that never saw the peer needs no lookup.
    if (!this.state.messages.hadDialogBefore(ownerId, m.peerId, m.id)) {
      const update: tl.RawUpdateNewMessage = { _: 'updateNewMessage', message: messageToTl(m), pts: m.pts, ptsCount: 1 };
      this.pushToUser(ownerId, this.container(update, [ownerId, m.fromId, m.peerId], ownerId, m.date), origin);
      return;
    }
    const short: tl.RawUpdateShortMessage = {
      _: 'updateShortMessage',
      out: m.out || undefined,
      id: m.id,
      userId: m.peerId,
      message: m.text,
      pts: m.pts,
      ptsCount: 1,
      date: m.date,
    };
    this.pushToUser(ownerId, short, origin);
  }

  private container(update: tl.TypeUpdate, userIds: number[], viewerId = userIds[0] ?? 0, date = nowSeconds()): tl.RawUpdates {
    return { _: 'updates', updates: [update], users: usersToTl(this.state.accounts, userIds, viewerId), chats: [], date, seq: 0 };
  }

  /** Pushes to the user's keys on their home DC (where Telegram delivers a user's updates). */
  private pushToUser(userId: number, update: tl.TypeUpdates, origin?: Origin): void {
    if (this.isPaused(userId)) {
      this.missed.add(userId);
      return;
    }
    const account = this.state.accounts.byId(userId);
    if (!account) return;
    const keys = this.state.keys
      .keysOfUser(userId)
      .filter((e) => e.record.dcId === account.homeDc && !e.authorization?.sessionRevoked && !e.duplicated)
      .map((e) => e.record.id);
    if (keys.length) this.sessions.push(keys, update as unknown as TlObject, { except: origin });
  }
}
