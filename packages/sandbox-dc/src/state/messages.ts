/**
 * Per-user message boxes, as Telegram keeps private chats: each user has own message ids and an own
 * pts counter; a message between two users exists once in each box (the two copies know each other's
 * id). Saved Messages is the dialog whose peer is the user themself.
 *
 * Every change to a box (new, edited or deleted messages, read marks) takes pts and is kept in the
 * box's event log, so updates.getDifference can replay what a client missed; the log keeps the last
 * MAX_EVENTS events (older gaps get differenceTooLong).
 */
export interface StoredMessage {
  /** Id inside the owner's box. */
  id: number;
  /** The other side of the dialog (the owner's own id for Saved Messages). */
  peerId: number;
  fromId: number;
  out: boolean;
  date: number; // unix seconds
  text: string;
  /** The owner's pts after this message was added. */
  pts: number;
  /** Set once the message was edited (unix seconds). */
  editDate?: number;
  /** The same message's id in the peer's box (absent for Saved Messages). */
  twinId?: number;
}

/** One pts-taking change of a box; `pts` is the box's pts after it, `pts - ptsCount` before. */
export type BoxEvent =
  | { kind: 'new'; pts: number; messageId: number }
  | { kind: 'edit'; pts: number; messageId: number }
  | { kind: 'delete'; pts: number; ptsCount: number; messageIds: number[] }
  | { kind: 'readInbox'; pts: number; peerId: number; maxId: number }
  | { kind: 'readOutbox'; pts: number; peerId: number; maxId: number };

export interface MessageBox {
  userId: number;
  lastMessageId: number;
  pts: number;
  messages: StoredMessage[];
  /** Oldest first; at most MAX_EVENTS. */
  events?: BoxEvent[];
  /** Peer id → highest incoming message id read by the owner. */
  readInbox?: Record<string, number>;
  /** Peer id → highest outgoing message id the peer has read. */
  readOutbox?: Record<string, number>;
}

export interface MessagesSnapshot {
  boxes: MessageBox[];
}

export interface DialogSummary {
  peerId: number;
  top: StoredMessage;
  unreadCount: number;
  readInboxMaxId: number;
  readOutboxMaxId: number;
}

export interface HistoryQuery {
  offsetId: number;
  offsetDate: number;
  addOffset: number;
  limit: number;
  maxId: number;
  minId: number;
}

/** A change to one box, as the API half pushes it. */
export interface BoxChange<T> {
  ownerId: number;
  event: BoxEvent;
  detail: T;
}

/** What updates.getDifference should answer for a client at `pts`. */
export type Difference =
  | { kind: 'empty'; pts: number }
  | { kind: 'tooLong'; pts: number }
  /** `events` oldest first; `statePts` is the pts after the last of them; `final` false = a slice. */
  | { kind: 'events'; events: BoxEvent[]; statePts: number; final: boolean };

/** Most messages one history page carries, as on Telegram. */
export const MAX_PAGE = 100;
/** pts of a box without any event yet (Telegram's boxes never start at 0; mtcute treats 0 as "no state"). */
export const INITIAL_PTS = 1;
/** Events kept per box for getDifference. */
export const MAX_EVENTS = 10_000;

export class MessageStore {
  private readonly boxes = new Map<number, MessageBox>();

  constructor(private readonly onChange: () => void = () => {}) {}

  box(userId: number): MessageBox {
    let box = this.boxes.get(userId);
    if (!box) {
      box = { userId, lastMessageId: 0, pts: INITIAL_PTS, messages: [], events: [], readInbox: {}, readOutbox: {} };
      this.boxes.set(userId, box);
    }
    return box;
  }

  /** Current pts of a user's box. */
  pts(userId: number): number {
    return this.boxes.get(userId)?.pts ?? INITIAL_PTS;
  }

  /**
   * Delivers a private message: stored in the sender's box (out) and, unless it is Saved Messages,
   * in the recipient's box (in). Returns the sender's copy and the recipient's copy.
   */
  send(fromId: number, toId: number, text: string, date = Math.floor(Date.now() / 1000)): { sent: StoredMessage; received?: StoredMessage } {
    const sent = this.append(fromId, { peerId: toId, fromId, out: true, date, text });
    let received: StoredMessage | undefined;
    if (toId !== fromId) {
      received = this.append(toId, { peerId: fromId, fromId, out: false, date, text, twinId: sent.id });
      sent.twinId = received.id;
    }
    this.onChange();
    return { sent, received };
  }

  /** Whether the owner's box had a message in this dialog before message `beforeId`. */
  hadDialogBefore(ownerId: number, peerId: number, beforeId: number): boolean {
    const list = this.boxes.get(ownerId)?.messages ?? [];
    // Newest first: an active dialog is found within a few messages.
    for (let i = list.length - 1; i >= 0; i--) {
      const m = list[i]!;
      if (m.id < beforeId && m.peerId === peerId) return true;
    }
    return false;
  }

  /** A dialog's messages, newest first, paged as messages.getHistory pages. Returns the page and the dialog's total. */
  history(userId: number, peerId: number, q: HistoryQuery): { page: StoredMessage[]; count: number } {
    const all = (this.boxes.get(userId)?.messages ?? []).filter((m) => m.peerId === peerId);
    const newestFirst = all
      .filter((m) => (q.minId <= 0 || m.id > q.minId) && (q.maxId <= 0 || m.id < q.maxId))
      .reverse();
    let start = 0;
    if (q.offsetId > 0) {
      start = newestFirst.findIndex((m) => m.id < q.offsetId);
      if (start < 0) start = newestFirst.length;
    } else if (q.offsetDate > 0) {
      start = newestFirst.findIndex((m) => m.date < q.offsetDate);
      if (start < 0) start = newestFirst.length;
    }
    start += q.addOffset;
    const limit = Math.max(0, Math.min(q.limit > 0 ? q.limit : MAX_PAGE, MAX_PAGE));
    const end = Math.max(0, start + limit);
    return { page: newestFirst.slice(Math.max(0, start), end), count: all.length };
  }

  /** The owner's dialogs, most recent first. */
  dialogs(userId: number): DialogSummary[] {
    const box = this.boxes.get(userId);
    const byPeer = new Map<number, DialogSummary>();
    for (const m of box?.messages ?? []) {
      let d = byPeer.get(m.peerId);
      if (!d) {
        const readInboxMaxId = box?.readInbox?.[m.peerId] ?? 0;
        const readOutboxMaxId = box?.readOutbox?.[m.peerId] ?? 0;
        d = { peerId: m.peerId, top: m, unreadCount: 0, readInboxMaxId, readOutboxMaxId };
        byPeer.set(m.peerId, d);
      }
      d.top = m;
      if (!m.out && m.id > d.readInboxMaxId) d.unreadCount++;
    }
    return [...byPeer.values()].sort((a, b) => b.top.id - a.top.id);
  }

  /** Unread incoming messages over all dialogs (updates.state.unread_count). */
  unreadCount(userId: number): number {
    return this.dialogs(userId).reduce((n, d) => n + d.unreadCount, 0);
  }

  byIds(userId: number, ids: number[]): (StoredMessage | undefined)[] {
    const box = this.boxes.get(userId);
    return ids.map((id) => (box ? findById(box, id) : undefined));
  }

  /**
   * Edits an outgoing message's text in both boxes. Errors as Telegram names them: MESSAGE_ID_INVALID,
   * MESSAGE_AUTHOR_REQUIRED, MESSAGE_NOT_MODIFIED.
   */
  edit(ownerId: number, peerId: number, messageId: number, text: string, date = Math.floor(Date.now() / 1000)):
    | { ok: true; changes: BoxChange<StoredMessage>[] }
    | { ok: false; error: 'MESSAGE_ID_INVALID' | 'MESSAGE_AUTHOR_REQUIRED' | 'MESSAGE_NOT_MODIFIED' } {
    const box = this.boxes.get(ownerId);
    const own = box ? findById(box, messageId) : undefined;
    if (!box || !own || own.peerId !== peerId) return { ok: false, error: 'MESSAGE_ID_INVALID' };
    if (own.fromId !== ownerId) return { ok: false, error: 'MESSAGE_AUTHOR_REQUIRED' };
    if (own.text === text) return { ok: false, error: 'MESSAGE_NOT_MODIFIED' };
    const changes: BoxChange<StoredMessage>[] = [];
    const apply = (owner: MessageBox, m: StoredMessage): void => {
      m.text = text;
      m.editDate = date;
      changes.push({ ownerId: owner.userId, event: this.record(owner, { kind: 'edit', messageId: m.id }, 1), detail: m });
    };
    apply(box, own);
    const twinBox = own.twinId !== undefined ? this.boxes.get(own.peerId) : undefined;
    const twin = twinBox && own.twinId !== undefined ? findById(twinBox, own.twinId) : undefined;
    if (twinBox && twin) apply(twinBox, twin);
    this.onChange();
    return { ok: true, changes };
  }

  /**
   * Deletes messages from the owner's box (unknown ids are skipped); with `revoke`, their copies in
   * the peers' boxes too. One event per box that lost messages.
   */
  delete(ownerId: number, ids: number[], revoke: boolean): BoxChange<number[]>[] {
    const box = this.boxes.get(ownerId);
    if (!box) return [];
    const wanted = new Set(ids);
    const removed = box.messages.filter((m) => wanted.has(m.id));
    if (removed.length === 0) return [];
    const changes = [this.removeFrom(box, removed)];
    if (revoke) {
      const twinsByPeer = new Map<number, number[]>();
      for (const m of removed) {
        if (m.twinId === undefined || m.peerId === ownerId) continue;
        twinsByPeer.set(m.peerId, [...(twinsByPeer.get(m.peerId) ?? []), m.twinId]);
      }
      for (const [peerId, twinIds] of twinsByPeer) {
        const peerBox = this.boxes.get(peerId);
        const twins = peerBox?.messages.filter((m) => twinIds.includes(m.id)) ?? [];
        if (peerBox && twins.length) changes.push(this.removeFrom(peerBox, twins));
      }
    }
    this.onChange();
    return changes;
  }

  /**
   * Marks the owner's incoming messages from `peerId` read up to `maxId` (0 = all). Returns the
   * owner's readInbox change and the peer's readOutbox change, or nothing when nothing new was read.
   */
  readHistory(ownerId: number, peerId: number, maxId: number): { inbox: BoxChange<{ maxId: number; stillUnread: number }>; outbox?: BoxChange<{ maxId: number }> } | undefined {
    const box = this.boxes.get(ownerId);
    if (!box) return undefined;
    const incoming = box.messages.filter((m) => m.peerId === peerId && !m.out);
    const newestIncoming = incoming.at(-1)?.id ?? 0;
    const upTo = maxId > 0 ? Math.min(maxId, newestIncoming) : newestIncoming;
    box.readInbox ??= {};
    const before = box.readInbox[peerId] ?? 0;
    if (upTo <= before) return undefined;
    box.readInbox[peerId] = upTo;
    const stillUnread = incoming.filter((m) => m.id > upTo).length;
    const inbox = { ownerId, event: this.record(box, { kind: 'readInbox', peerId, maxId: upTo }, 1), detail: { maxId: upTo, stillUnread } };
    // The peer learns its messages were read, in its own ids.
    const peerBox = peerId === ownerId ? undefined : this.boxes.get(peerId);
    const twinMax = Math.max(0, ...incoming.filter((m) => m.id <= upTo && m.twinId !== undefined).map((m) => m.twinId!));
    let outbox: BoxChange<{ maxId: number }> | undefined;
    if (peerBox && twinMax > (peerBox.readOutbox?.[ownerId] ?? 0)) {
      peerBox.readOutbox ??= {};
      peerBox.readOutbox[ownerId] = twinMax;
      outbox = { ownerId: peerId, event: this.record(peerBox, { kind: 'readOutbox', peerId: ownerId, maxId: twinMax }, 1), detail: { maxId: twinMax } };
    }
    this.onChange();
    return { inbox, outbox };
  }

  /**
   * What a client of `userId` at `pts` missed: nothing, the events after it (at most `sliceSize`;
   * more makes a slice), or tooLong when the gap is over `tooLongGap` or older than the kept log.
   * A client ahead of the box (it saw a state the DC lost) is told tooLong with the current pts.
   */
  difference(userId: number, pts: number, limits: { sliceSize: number; tooLongGap: number }): Difference {
    const box = this.boxes.get(userId);
    const current = box?.pts ?? INITIAL_PTS;
    if (pts === current) return { kind: 'empty', pts: current };
    if (!box || pts > current || current - pts > limits.tooLongGap) return { kind: 'tooLong', pts: current };
    const events = box.events ?? [];
    const oldestBefore = events.length ? eventPtsBefore(events[0]!) : current;
    if (pts < oldestBefore) return { kind: 'tooLong', pts: current };
    const fresh: BoxEvent[] = [];
    for (const e of events) {
      if (e.pts <= pts) continue;
      fresh.push(e);
      if (fresh.length >= limits.sliceSize) break;
    }
    if (fresh.length === 0) return { kind: 'empty', pts: current };
    const statePts = fresh.at(-1)!.pts;
    return { kind: 'events', events: fresh, statePts, final: statePts >= current };
  }

  /** A message of the box by id (deleted ones are gone). */
  message(userId: number, id: number): StoredMessage | undefined {
    const box = this.boxes.get(userId);
    return box ? findById(box, id) : undefined;
  }

  snapshot(): MessagesSnapshot {
    return { boxes: [...this.boxes.values()] };
  }

  restore(snapshot: MessagesSnapshot): void {
    this.boxes.clear();
    for (const box of snapshot.boxes) {
      // State files from before the event log: every stored message becomes its own 'new' event.
      box.events ??= box.messages.map((m) => ({ kind: 'new' as const, pts: m.pts, messageId: m.id }));
      box.readInbox ??= {};
      box.readOutbox ??= {};
      this.boxes.set(box.userId, box);
    }
  }

  private append(ownerId: number, m: Omit<StoredMessage, 'id' | 'pts'>): StoredMessage {
    const box = this.box(ownerId);
    const id = ++box.lastMessageId;
    const event = this.record(box, { kind: 'new', messageId: id }, 1);
    const stored: StoredMessage = { ...m, id, pts: event.pts };
    box.messages.push(stored);
    return stored;
  }

  private removeFrom(box: MessageBox, removed: StoredMessage[]): BoxChange<number[]> {
    const ids = removed.map((m) => m.id);
    const gone = new Set(ids);
    box.messages = box.messages.filter((m) => !gone.has(m.id));
    return { ownerId: box.userId, event: this.record(box, { kind: 'delete', messageIds: ids }, ids.length), detail: ids };
  }

  /** Takes `ptsCount` pts for a change and logs it. */
  private record<E extends DistributiveOmit<BoxEvent, 'pts' | 'ptsCount'>>(box: MessageBox, change: E, ptsCount: number): BoxEvent {
    box.pts += ptsCount;
    const event = (change.kind === 'delete' ? { ...change, pts: box.pts, ptsCount } : { ...change, pts: box.pts }) as BoxEvent;
    box.events ??= [];
    box.events.push(event);
    if (box.events.length > MAX_EVENTS) box.events.splice(0, box.events.length - MAX_EVENTS);
    return event;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The box's pts before an event. */
export function eventPtsBefore(e: BoxEvent): number {
  return e.pts - (e.kind === 'delete' ? e.ptsCount : 1);
}

/** Messages are kept in id order: binary search. */
function findById(box: MessageBox, id: number): StoredMessage | undefined {
  const list = box.messages;
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = list[mid]!;
    if (m.id === id) return m;
    if (m.id < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}
