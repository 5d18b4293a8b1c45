/**
 * What the service tells about an account's messages: the one JSON shape of a message (the account API
 * answers with it, events carry it) and the events of the journal, as SSE, polling and webhooks deliver them.
 */

/** A message, everywhere: peer and from are marked peer ids (users positive, chats negative, channels -100…). */
export interface MessageJson {
  id: number;
  /** The chat: the other user of a private chat (your own id for Saved Messages), or the group/channel. */
  peer: number;
  /** Who sent it (null when Telegram does not say, e.g. a channel post). */
  from: number | null;
  /** ISO 8601. */
  date: string;
  text: string;
  /** The id of the message it answers, in the same chat. */
  replyTo: number | null;
  /** Sent by this account. */
  out: boolean;
}

/** The event types the journal holds (README "Events"). */
export type EventType = 'message.new' | 'message.edit' | 'message.delete' | 'message.read' | 'updates.gap';

/** An event before it is journaled: its type, its dedupe key (the same update twice has the same key), its data. */
export interface NewEvent {
  type: EventType;
  key: string;
  data: Record<string, unknown>;
}

/** An event as delivered: `{id, type, at, account, …data}` — the SSE data, the webhook body, a polled item. */
export interface WireEvent {
  id: number;
  type: string;
  at: string;
  account: string;
  [field: string]: unknown;
}
