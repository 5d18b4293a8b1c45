/**
 * The account API: dialogs, history, sending (with Idempotency-Key) and read marks. Every Telegram request
 * runs through the account's one failure policy (`run` = authorized()).
 *
 * Sending never sends twice what it was asked once:
 * - With an Idempotency-Key, a record {request hash, random_id, chat, text hash} is on disk before anything
 *   reaches Telegram, and the answer after. A retry of a finished key replays the answer; a retry of a key
 *   whose send may have reached Telegram (a timeout, a kill -9) first looks for the message in the chat's
 *   recent history (outgoing, same text, sent since the key was first used, not claimed by another key) and
 *   answers it when found; only when it is not there is it sent — with the same random_id, which Telegram
 *   refuses (RANDOM_ID_DUPLICATE) if it did get the first one after all.
 * - A send that gets no answer (Telegram unreachable, a timeout) takes the mtcute client down with it:
 *   mtcute would otherwise still send the request when the connection comes back, after the caller was told
 *   it failed. The answer is SEND_OUTCOME_UNKNOWN: it went out before the connection broke, or it never will.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { TelegramClient } from '@mtcute/node';
import Long from 'long';
import type { Logger } from 'pino';
import type { MessageJson, NewEvent } from '../events/types.js';
import type { IdempotencyRecord, IdempotencyStore } from '../store/types.js';
import {
  type DialogJson,
  type DialogsCursor,
  fetchDialogs,
  fetchHistory,
  findSentMessage,
  parsePeerQuery,
  PeerNotFoundError,
  readHistory,
  resolvePeer,
  type ResolvedPeer,
  type Rpc,
  sendText,
  textHash,
} from '../telegram/messages.js';
import { TelegramCallError } from '../telegram/call-error.js';
import { AccountError } from './types.js';

export const MAX_TEXT_LENGTH = 4096;
export const MAX_PAGE = 100;

export interface MessagingOptions {
  /** Runs `call` on the account's client under the account's failure policy (authorized()). */
  run<T>(method: string, call: (client: TelegramClient, rpc: Rpc) => Promise<T>): Promise<T>;
  /** Destroys `client` if it is still the account's: a request it holds is then never sent. */
  abandon(client: TelegramClient): Promise<void>;
  /** Journals an event (the account's event pipeline); absent: nothing is journaled. */
  journal?: (event: NewEvent) => void;
  idempotency?: IdempotencyStore;
  idempotencyTtlMs: number;
  logger: Logger;
  now?: () => number;
}

export interface SendInput {
  peer: string;
  text: string;
  replyTo?: number;
}

export interface SendResult {
  message: MessageJson;
  /** The answer of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
}

export class AccountMessaging {
  private readonly now: () => number;
  /** Sends in progress per Idempotency-Key in this process: a second request waits for the first. */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: MessagingOptions) {
    this.now = opts.now ?? Date.now;
  }

  dialogs(limit: number, cursor?: string): Promise<{ dialogs: DialogJson[]; nextCursor: string | null }> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    return this.opts.run('messages.getDialogs', async (client, rpc) => {
      const page = await refusalsMapped(() => fetchDialogs(client, rpc, clampPage(limit), after));
      return { dialogs: page.dialogs, nextCursor: page.next ? encodeCursor(page.next) : null };
    });
  }

  history(peer: string, limit: number, before?: number): Promise<{ messages: MessageJson[]; nextBefore: number | null }> {
    const query = peerQuery(peer);
    const size = clampPage(limit);
    return this.opts.run('messages.getHistory', async (client, rpc) => {
      const messages = await refusalsMapped(async () => fetchHistory(client, rpc, await resolvePeer(client, rpc, query), size, before));
      const last = messages.at(-1);
      return { messages, nextBefore: messages.length === size && last ? last.id : null };
    });
  }

  read(peer: string, maxId: number): Promise<{ peer: number; maxId: number }> {
    const query = peerQuery(peer);
    return this.opts.run('messages.readHistory', async (client, rpc) =>
      refusalsMapped(async () => {
        const resolved = await resolvePeer(client, rpc, query);
        await readHistory(client, rpc, resolved, maxId, (event) => this.opts.journal?.(event));
        return { peer: resolved.id, maxId };
      }),
    );
  }

  async send(input: SendInput, idempotencyKey?: string): Promise<SendResult> {
    const query = peerQuery(input.peer);
    if (input.text.trim() === '') throw new AccountError('MESSAGE_INVALID', 'text must not be empty');
    if (input.text.length > MAX_TEXT_LENGTH) throw new AccountError('MESSAGE_INVALID', `text must be at most ${MAX_TEXT_LENGTH} characters`);
    if (idempotencyKey === undefined) {
      return { message: await this.sendOnce(query, input, { randomId: randomId(), since: new Date(this.now()) }), replayed: false };
    }
    if (!this.opts.idempotency) throw new AccountError('STORAGE_UNAVAILABLE', 'Idempotency-Keys cannot be recorded for this account right now; nothing was sent');
    // One send per key at a time in this process; a second request for the key gets the first one's outcome.
    for (;;) {
      const running = this.inFlight.get(idempotencyKey);
      if (!running) break;
      await running.catch(() => undefined);
    }
    const send = this.sendWithKey(query, input, idempotencyKey, this.opts.idempotency);
    send.catch(() => undefined); // its failure is answered below; a waiter above only waits
    this.inFlight.set(idempotencyKey, send);
    try {
      return await send;
    } finally {
      this.inFlight.delete(idempotencyKey);
    }
  }

  private async sendWithKey(query: ReturnType<typeof peerQuery>, input: SendInput, key: string, store: IdempotencyStore): Promise<SendResult> {
    const requestHash = hashRequest(input);
    const existing = await store.get(key);
    if (existing && existing.requestHash !== requestHash) {
      throw new AccountError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request; use a new key for a new message');
    }
    if (existing?.state === 'done' && existing.answer) return { message: existing.answer.body as MessageJson, replayed: true };

    const now = this.now();
    let record: IdempotencyRecord = existing ?? {
      key,
      requestHash,
      state: 'pending',
      randomId: randomId().toString(),
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.opts.idempotencyTtlMs).toISOString(),
    };
    let reachedTelegram = false;
    try {
      const message = await this.sendOnce(query, input, {
        randomId: Long.fromString(record.randomId),
        since: new Date(record.createdAt),
        inDoubt: existing !== undefined,
        exclude: (peer) => store.claimedMessageIds(peer),
        beforeSend: async (peer) => {
          reachedTelegram = true;
          if (record.peer !== undefined) return;
          record = { ...record, peer: peer.id, textHash: textHash(input.text) };
          await durably(() => store.put(record));
        },
      });
      const done: IdempotencyRecord = { ...record, state: 'done', answer: { status: 200, body: message } };
      // If this write fails, the key stays pending: a retry finds the message in the history and answers it.
      await store.put(done).catch((err: unknown) => this.opts.logger.error({ err }, 'Could not record an Idempotency-Key answer'));
      return { message, replayed: false };
    } catch (err) {
      // Telegram refused the send: nothing was sent, and the same request may be tried again under the key.
      if (reachedTelegram && err instanceof AccountError && REFUSALS.has(err.code)) await store.remove(key).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Sends once — or, when an earlier attempt may have reached Telegram (`inDoubt`, or the failure policy
   * calling again after a recovery), first looks for it in the chat and answers it when found.
   */
  private async sendOnce(
    query: ReturnType<typeof peerQuery>,
    input: SendInput,
    opts: {
      randomId: Long;
      since: Date;
      inDoubt?: boolean;
      exclude?: (peer: number) => Promise<ReadonlySet<number>>;
      beforeSend?: (peer: ResolvedPeer) => Promise<void>;
    },
  ): Promise<MessageJson> {
    let attempts = 0;
    const hash = textHash(input.text);
    const findEarlier = async (client: TelegramClient, rpc: Rpc, peer: ResolvedPeer): Promise<MessageJson | undefined> =>
      findSentMessage(client, rpc, peer, hash, opts.since, (await opts.exclude?.(peer.id)) ?? new Set());
    try {
      return await this.opts.run('messages.sendMessage', (client, rpc) =>
        refusalsMapped(async () => {
          const peer = await resolvePeer(client, rpc, query);
          if (opts.inDoubt || attempts > 0) {
            const earlier = await findEarlier(client, rpc, peer);
            if (earlier) return earlier;
          }
          await opts.beforeSend?.(peer);
          attempts++;
          try {
            return await sendText(client, rpc, peer, { text: input.text, randomId: opts.randomId, ...(input.replyTo ? { replyTo: input.replyTo } : {}) }, (event) =>
              this.opts.journal?.(event),
            );
          } catch (err) {
            const failure = err instanceof TelegramCallError ? err.classified : undefined;
            if (failure?.kind === 'network') {
              // mtcute may still hold the request and send it when it reconnects: it goes with this client.
              await this.opts.abandon(client);
            } else if (failure?.kind === 'telegram' && failure.text === 'RANDOM_ID_DUPLICATE') {
              const earlier = await findEarlier(client, rpc, peer);
              if (earlier) return earlier;
              throw new AccountError('SEND_OUTCOME_UNKNOWN', 'Telegram says this message was sent before, but it is not in the chat’s recent history');
            }
            throw err;
          }
        }),
      );
    } catch (err) {
      if (attempts > 0 && err instanceof AccountError && err.code === 'TELEGRAM_UNAVAILABLE') {
        throw new AccountError(
          'SEND_OUTCOME_UNKNOWN',
          'Telegram did not answer: the message may have been sent, and will not be sent later by this service. ' +
            'Retry with the same Idempotency-Key to find out without sending it twice.',
        );
      }
      throw err;
    }
  }
}

/** Codes that mean Telegram refused the message: it was not sent. */
const REFUSALS: ReadonlySet<string> = new Set(['PEER_NOT_FOUND', 'MESSAGE_INVALID', 'TELEGRAM_REFUSED', 'FLOOD_WAIT']);

const PEER_INVALID = new Set(['PEER_ID_INVALID', 'USER_ID_INVALID', 'CHAT_ID_INVALID', 'CHANNEL_INVALID', 'CHANNEL_PRIVATE', 'INPUT_USER_DEACTIVATED']);
const MESSAGE_INVALID = new Set(['MESSAGE_EMPTY', 'MESSAGE_TOO_LONG', 'MSG_ID_INVALID', 'REPLY_MESSAGE_ID_INVALID', 'ENTITY_BOUNDS_INVALID']);

/** Telegram's refusals of an account-API request → the API's codes (other failures are left to the failure policy). */
async function refusalsMapped<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof PeerNotFoundError) throw new AccountError('PEER_NOT_FOUND', err.message);
    if (!(err instanceof TelegramCallError) || err.classified.kind !== 'telegram') throw err;
    const { text, code } = err.classified;
    if (PEER_INVALID.has(text)) throw new AccountError('PEER_NOT_FOUND', `Telegram does not know this chat (${text})`);
    if (MESSAGE_INVALID.has(text)) throw new AccountError('MESSAGE_INVALID', `Telegram refused the message (${text})`);
    if (code >= 400 && code < 500) throw new AccountError('TELEGRAM_REFUSED', `Telegram refused the request (${text})`);
    throw err;
  }
}

async function durably(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new AccountError('STORAGE_UNAVAILABLE', `The Idempotency-Key cannot be recorded${typeof code === 'string' ? ` (${code})` : ''}; nothing was sent`);
  }
}

function peerQuery(peer: string): NonNullable<ReturnType<typeof parsePeerQuery>> {
  const query = parsePeerQuery(peer);
  if (!query) throw new AccountError('PEER_NOT_FOUND', 'peer must be "me", a numeric id or @username');
  return query;
}

/** A message's random_id (mtcute's randomLong is not imported: it would put mtcute into the start-up bundle). */
function randomId(): Long {
  return Long.fromBytesLE([...randomBytes(8)]);
}

function clampPage(limit: number): number {
  return Math.min(MAX_PAGE, Math.max(1, Math.floor(limit)));
}

function hashRequest(input: SendInput): string {
  return createHash('sha256')
    .update(JSON.stringify({ peer: input.peer, text: input.text, replyTo: input.replyTo ?? null }))
    .digest('hex');
}

function encodeCursor(cursor: DialogsCursor): string {
  return Buffer.from(JSON.stringify([cursor.date, cursor.id, cursor.peer]), 'utf8').toString('base64url');
}

function decodeCursor(text: string): DialogsCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 3 && value.every((n) => Number.isSafeInteger(n))) {
      const [date, id, peer] = value as [number, number, number];
      return { date, id, peer };
    }
  } catch {
    // falls through
  }
  throw new AccountError('INVALID_CURSOR', 'cursor is not one this service issued');
}
