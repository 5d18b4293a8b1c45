/**
 * One account's event pipeline: updates in, durable events out.
 *
 *   add(event)  ── duplicate key? dropped ──▶ queue ──▶ journal.append (group commit, fsync) ──▶ readers woken
 *   mtcute saved its update state ─────────────────▲ (appended after the events queued before it; usually in
 *                                                     the same write: a commit starts on the next turn)
 *
 * Nothing is delivered before it is journaled: readers (SSE, polling, webhooks) only ever read the journal.
 * The update state mtcute catches up from is journaled after the events it covers, so after any crash the
 * state on disk never skips an event; catching up may repeat events, and their keys drop them here.
 *
 * While the journal refuses writes (a full disk) events wait in memory, up to MAX_PENDING; past that they
 * are not kept, the state stops advancing, and the account is told to restart its updates from the last
 * durable state once writes work again (onResyncNeeded), so nothing is lost then either.
 */
import type { Logger } from 'pino';
import type { EventJournal, UpdateState, UpdateStateBinding } from '../store/types.js';
import { JournalFeed } from './feed.js';
import { KeyWindow } from './key-window.js';
import type { NewEvent } from './types.js';
import { LOG_MESSAGES } from '../logging/messages.js';
import { exponentialDelayMs } from '../timing/backoff.js';

/** Events appended at once at most (one durable write). */
const MAX_BATCH = 512;
/** Events waiting for the journal at most; see the module comment. */
const MAX_PENDING = 50_000;
/** Keys of recent events remembered for deduplication. */
const KEY_WINDOW = 4096;
const RETRY_BASE_MS = 200;
const RETRY_MAX_MS = 30_000;
const RETENTION_INTERVAL_MS = 60_000;

export interface AccountEventsOptions {
  accountId: string;
  journal: EventJournal;
  logger: Logger;
  now?: () => number;
  /** Events waiting for the journal at most (default MAX_PENDING). */
  maxPending?: number;
}

export interface EventsStatus {
  firstId: number;
  lastId: number;
  /** Events not yet on disk. */
  pending: number;
  /** The journal's last write failure, while it lasts. */
  error?: { message: string; at: string };
}

export class AccountEvents extends JournalFeed {
  private readonly journal: EventJournal;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly maxPending: number;
  private readonly keys = new KeyWindow(KEY_WINDOW);
  private queue: JournalEventInput[] = [];
  /** A state (or a reset, null) to append once every event queued before it is in the batch. */
  private pendingState: UpdateState | null | undefined;
  /** The newest state accepted: what a new mtcute client starts from. */
  private latestState: UpdateState | null = null;
  /** The newest state on disk. */
  private durableState: UpdateState | null = null;
  /** Bumped by reset() and overflow: state saves from older bindings are ignored. */
  private generation = 0;
  private overflowed = false;
  private committing: Promise<void> | null = null;
  private writeError: { message: string; at: string } | undefined;
  /** Journal writes failed in a row (the retry waits grow with it). */
  private writeFailures = 0;
  /** Woken when a journal write fails (see flushUnlessFailing). */
  private readonly writeFailed: Array<() => void> = [];
  private retentionTimer: NodeJS.Timeout | undefined;
  private opened = false;
  /** close() began: a failing write is not retried any more. */
  private closing = false;
  private closed = false;
  /** Told when events had to be let go (see the module comment). */
  onResyncNeeded: (() => void) | undefined;

  constructor(opts: AccountEventsOptions) {
    super(opts.accountId, opts.journal);
    this.journal = opts.journal;
    this.log = opts.logger.child({ account: opts.accountId, module: 'events' });
    this.now = opts.now ?? Date.now;
    this.maxPending = opts.maxPending ?? MAX_PENDING;
  }

  async open(): Promise<void> {
    const opened = await this.journal.open();
    this.latestState = this.durableState = opened.updateState;
    for (const key of opened.recentKeys) this.keys.add(key);
    this.opened = true;
    this.retentionTimer = setInterval(() => {
      void this.journal.applyRetention(this.now()).catch((err: unknown) => this.log.warn({ err }, 'Event journal retention failed'));
    }, RETENTION_INTERVAL_MS);
    this.retentionTimer.unref();
  }

  // ───────────────────────────── in ─────────────────────────────

  /**
   * Where mtcute's update state starts from and goes to, for one client. A client made after a reset or an
   * overflow gets a new binding; saves from older ones are ignored.
   */
  updateStateBinding(): UpdateStateBinding {
    const generation = this.generation;
    return {
      initial: this.latestState,
      saved: (state) => {
        if (generation === this.generation && !this.closed) this.acceptState(state);
      },
    };
  }

  /** Queues an event for the journal; false when it is a duplicate (or the pipeline is closed). */
  add(event: NewEvent): boolean {
    if (this.closed || !this.opened) return false;
    if (this.keys.has(event.key)) {
      this.log.debug({ key: event.key, type: event.type }, LOG_MESSAGES.duplicateUpdateDropped);
      return false;
    }
    // An event let go is not remembered: it comes again when the updates are fetched again.
    if (this.overflowed) return false;
    if (this.queue.length >= this.maxPending) {
      this.overflow();
      return false;
    }
    this.keys.add(event.key);
    this.queue.push({ type: event.type, key: event.key, data: event.data, at: new Date(this.now()).toISOString() });
    this.kick();
    return true;
  }

  private acceptState(state: UpdateState): void {
    if (this.overflowed) return;
    this.latestState = state;
    this.pendingState = state;
    this.kick();
  }

  /** The session ended (logout, revocation, a new login): its state and keys mean nothing to the next one. */
  async reset(): Promise<void> {
    if (this.closed || !this.opened) return;
    this.generation++;
    this.overflowed = false;
    this.latestState = null;
    this.keys.clear();
    this.pendingState = null;
    this.kick();
    await this.flushUnlessFailing();
  }

  private overflow(): void {
    this.overflowed = true;
    this.generation++;
    this.latestState = this.durableState;
    this.pendingState = undefined;
    this.log.error(
      { pending: this.queue.length },
      LOG_MESSAGES.journalOverflow,
    );
  }

  // ───────────────────────────── commit ─────────────────────────────

  private kick(): void {
    if (this.committing || this.closed) return;
    // The commit starts once the current I/O callback and its microtasks are done: mtcute saves its update
    // state right after dispatching an update, in the same turn, so the state joins its events' write and
    // fsync instead of costing a second one (and updates that arrive together are one batch).
    this.committing = nextTurn().then(() => this.commitLoop()).finally(() => {
      this.committing = null;
      if (this.queue.length > 0 || this.pendingState !== undefined) this.kick();
    });
  }

  private async commitLoop(): Promise<void> {
    while (!this.closed && (this.queue.length > 0 || this.pendingState !== undefined)) {
      const batch = this.queue.slice(0, MAX_BATCH);
      // A state covers every event queued before it: it goes with the batch only if the batch holds them all.
      const state = batch.length === this.queue.length ? this.pendingState : undefined;
      try {
        await this.journal.append(batch, state);
      } catch (err) {
        this.recordWriteError(err);
        // Closing: what is not journaled is let go — the state it would have moved is not journaled either, so
        // the next start (or the account's next owner) fetches it again.
        if (this.closing) return;
        await sleep(exponentialDelayMs(++this.writeFailures, RETRY_BASE_MS, RETRY_MAX_MS));
        continue;
      }
      this.queue.splice(0, batch.length);
      if (state !== undefined) {
        this.durableState = state;
        if (this.pendingState === state) this.pendingState = undefined;
      }
      if (this.writeError) this.log.info({}, LOG_MESSAGES.journalWritableAgain);
      this.writeError = undefined;
      this.writeFailures = 0;
      if (this.overflowed && this.queue.length === 0) this.endOverflow();
      if (batch.length > 0) this.tell();
    }
  }

  private endOverflow(): void {
    this.overflowed = false;
    this.log.warn({}, LOG_MESSAGES.journalResync);
    this.onResyncNeeded?.();
  }

  private recordWriteError(err: unknown): void {
    for (const wake of this.writeFailed.splice(0)) wake();
    const code = (err as NodeJS.ErrnoException).code;
    const message = `the event journal cannot be written${typeof code === 'string' ? ` (${code})` : ''}; events wait in memory`;
    if (!this.writeError) this.log.error({ err, pending: this.queue.length }, LOG_MESSAGES.journalWriteFailed);
    this.writeError = { message, at: new Date(this.now()).toISOString() };
  }

  /** Resolves once everything queued so far is on disk (or the pipeline closed). */
  async flush(): Promise<void> {
    while (this.committing) await this.committing;
  }

  /**
   * As flush(), but also resolves as soon as the journal cannot be written: what is queued waits in memory
   * and is retried (the status says so), and a logout on a read-only or full disk is not held up by it.
   */
  private async flushUnlessFailing(): Promise<void> {
    while (this.committing && !this.writeError) {
      let wake!: () => void;
      const failed = new Promise<void>((resolve) => this.writeFailed.push((wake = resolve)));
      await Promise.race([this.committing, failed]);
      const at = this.writeFailed.indexOf(wake);
      if (at >= 0) this.writeFailed.splice(at, 1);
    }
  }

  // ───────────────────────────── out ─────────────────────────────

  /** The space the journal takes, in bytes. */
  journalBytes(): number {
    return this.opened ? this.journal.bytes() : 0;
  }

  status(): EventsStatus {
    const bounds = this.opened ? this.journal.bounds() : undefined;
    const status: EventsStatus = { firstId: bounds?.firstId ?? 1, lastId: bounds?.lastId ?? 0, pending: this.queue.length };
    if (this.writeError) status.error = { ...this.writeError }; // read on every GET status: no spreads of optional parts
    return status;
  }

  /** Writes what is queued (unless writes fail), then closes the journal. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.retentionTimer);
    this.closing = true;
    if (this.opened && !this.writeError) await this.flush();
    this.closed = true;
    this.tell(); // readers notice and end
    this.listeners.clear();
    await this.committing?.catch(() => undefined);
    if (this.opened) await this.journal.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

type JournalEventInput = Parameters<EventJournal['append']>[0][number];

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
