/**
 * Marked peer ids, mtcute's (and the Bot API's) convention: a user's id as it is, a basic group's negated,
 * a channel's −10¹² − id. mtcute's own getMarkedPeerId/parseMarkedPeerId are reached only through its
 * utils barrel, and importing anything of it here put mtcute into the start-up bundle (the account API
 * imports this module); mtcute is loaded on first use (load.ts). test/unit/peer-ids.test.ts holds these
 * to mtcute's.
 */
import type { tl } from '@mtcute/core';

export type PeerKind = 'user' | 'chat' | 'channel';

const ZERO_CHANNEL_ID = -1e12;
const MIN_MARKED_CHAT_ID = -999_999_999_999;
const MAX_USER_ID = 1_099_511_627_775;

type AnyPeer = tl.TypePeer | tl.TypeInputPeer | tl.TypeInputUser | tl.TypeInputChannel;

export function getMarkedPeerId(peerId: number, kind: PeerKind): number;
export function getMarkedPeerId(peer: AnyPeer): number;
export function getMarkedPeerId(peer: AnyPeer | number, kind?: PeerKind): number {
  if (typeof peer === 'number') {
    if (kind === 'user') return peer;
    if (kind === 'chat') return -peer;
    if (kind === 'channel') return ZERO_CHANNEL_ID - peer;
    throw new TypeError(`Invalid peer kind: ${String(kind)}`);
  }
  if ('userId' in peer) return peer.userId;
  if ('chatId' in peer) return -peer.chatId;
  if ('channelId' in peer) return ZERO_CHANNEL_ID - peer.channelId;
  throw new TypeError(`Invalid peer: ${peer._}`);
}

export function parseMarkedPeerId(id: number): [PeerKind, number] {
  if (id < 0) {
    if (id >= MIN_MARKED_CHAT_ID) return ['chat', -id];
    if (id !== ZERO_CHANNEL_ID) return ['channel', ZERO_CHANNEL_ID - id];
  } else if (id > 0 && id <= MAX_USER_ID) {
    return ['user', id];
  }
  throw new RangeError(`Invalid marked peer id: ${id}`);
}
