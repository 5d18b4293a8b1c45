/**
 * Per-user message boxes, as Telegram keeps private chats: each user has own message ids and an own
 * pts counter; a message between two users exists once in each box. Saved Messages is the dialog
 * whose peer is the user themself.
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
}

export interface MessageBox {
  userId: number;
  lastMessageId: number;
  pts: number;
  messages: StoredMessage[];
}

export interface MessagesSnapshot {
  boxes: MessageBox[];
}

export interface DialogSummary {
  peerId: number;
  top: StoredMessage;
  /** Incoming messages in the dialog (nothing is marked read in the sandbox). */
  unreadCount: number;
}

export interface HistoryQuery {
  offsetId: number;
  offsetDate: number;
  addOffset: number;
  limit: number;
  maxId: number;
  minId: number;
}

/** Most messages one history or difference answer carries, as on Telegram. */
export const MAX_PAGE = 100;

export class MessageStore {
  private readonly boxes = new Map<number, MessageBox>();

  constructor(private readonly onChange: () => void = () => {}) {}

  box(userId: number): MessageBox {
    let box = this.boxes.get(userId);
    if (!box) {
      box = { userId, lastMessageId: 0, pts: 0, messages: [] };
      this.boxes.set(userId, box);
    }
    return box;
  }

  /** Current pts of a user's box (0 for a user without messages). */
  pts(userId: number): number {
    return this.boxes.get(userId)?.pts ?? 0;
  }

  /**
   * Delivers a private message: stored in the sender's box (out) and, unless it is Saved Messages,
   * in the recipient's box (in). Returns the sender's copy and the recipient's copy.
   */
  send(fromId: number, toId: number, text: string, date = Math.floor(Date.now() / 1000)): { sent: StoredMessage; received?: StoredMessage } {
    const sent = this.append(fromId, { peerId: toId, fromId, out: true, date, text });
    const received = toId === fromId ? undefined : this.append(toId, { peerId: fromId, fromId, out: false, date, text });
    this.onChange();
    return { sent, received };
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
    const byPeer = new Map<number, DialogSummary>();
    for (const m of this.boxes.get(userId)?.messages ?? []) {
      const d = byPeer.get(m.peerId);
      if (!d) byPeer.set(m.peerId, { peerId: m.peerId, top: m, unreadCount: m.out ? 0 : 1 });
      else {
        d.top = m;
        if (!m.out) d.unreadCount++;
      }
    }
    return [...byPeer.values()].sort((a, b) => b.top.id - a.top.id);
  }

  /** Messages added to the box after `pts`, oldest first, at most `limit`. */
  since(userId: number, pts: number, limit = MAX_PAGE): StoredMessage[] {
    const box = this.boxes.get(userId);
    if (!box || pts >= box.pts) return [];
    const out: StoredMessage[] = [];
    for (const m of box.messages) {
      if (m.pts > pts) {
        out.push(m);
        if (out.length >= limit) break;
      }
    }
    return out;
  }

  byIds(userId: number, ids: number[]): (StoredMessage | undefined)[] {
    const box = this.boxes.get(userId);
    return ids.map((id) => box?.messages.find((m) => m.id === id));
  }

  snapshot(): MessagesSnapshot {
    return { boxes: [...this.boxes.values()] };
  }

  restore(snapshot: MessagesSnapshot): void {
    this.boxes.clear();
    for (const box of snapshot.boxes) this.boxes.set(box.userId, box);
  }

  private append(ownerId: number, m: Omit<StoredMessage, 'id' | 'pts'>): StoredMessage {
    const box = this.box(ownerId);
    const stored: StoredMessage = { ...m, id: ++box.lastMessageId, pts: ++box.pts };
    box.messages.push(stored);
    return stored;
  }
}
