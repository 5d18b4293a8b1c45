/**
 * Marked peer ids (src/telegram/peer-ids.ts) are mtcute's: the same id for every kind of peer and input
 * peer, the same parse, the same refusals.
 */
import type { tl } from '@mtcute/core';
import * as mtcute from '@mtcute/core/utils.js';
import { describe, expect, it } from 'vitest';
import { getMarkedPeerId, parseMarkedPeerId, type PeerKind } from '../../src/telegram/peer-ids.js';

const IDS = [1, 42, 777_000, 2_147_483_647, 5_000_000_000, 999_999_999_999, 1_099_511_627_775];
const ACCESS_HASH = mtcute.randomLong();

function peersOf(id: number): tl.TypePeer[] | tl.TypeInputPeer[] | Array<tl.TypeInputUser | tl.TypeInputChannel> {
  return [
    { _: 'peerUser', userId: id },
    { _: 'peerChat', chatId: id },
    { _: 'peerChannel', channelId: id },
    { _: 'inputPeerUser', userId: id, accessHash: ACCESS_HASH },
    { _: 'inputPeerChat', chatId: id },
    { _: 'inputPeerChannel', channelId: id, accessHash: ACCESS_HASH },
    { _: 'inputPeerUserFromMessage', peer: { _: 'inputPeerChat', chatId: 1 }, msgId: 1, userId: id },
    { _: 'inputPeerChannelFromMessage', peer: { _: 'inputPeerChat', chatId: 1 }, msgId: 1, channelId: id },
    { _: 'inputUser', userId: id, accessHash: ACCESS_HASH },
    { _: 'inputChannel', channelId: id, accessHash: ACCESS_HASH },
  ] as never;
}

describe('marked peer ids', () => {
  it('mark every kind of peer as mtcute does', () => {
    for (const id of IDS) {
      for (const peer of peersOf(id)) expect(getMarkedPeerId(peer), `${peer._} ${id}`).toBe(mtcute.getMarkedPeerId(peer));
      for (const kind of ['user', 'chat', 'channel'] as PeerKind[]) expect(getMarkedPeerId(id, kind)).toBe(mtcute.getMarkedPeerId(id, kind));
    }
  });

  it('parse marked ids as mtcute does, and refuse what it refuses', () => {
    const marked = IDS.flatMap((id) => (['user', 'chat', 'channel'] as PeerKind[]).map((kind) => mtcute.getMarkedPeerId(id, kind)));
    for (const id of [...marked, -1, -999_999_999_999, -1_000_000_000_001]) expect(parseMarkedPeerId(id), String(id)).toEqual(mtcute.parseMarkedPeerId(id));
    for (const id of [0, -1e12, 1_099_511_627_776]) {
      expect(() => mtcute.parseMarkedPeerId(id)).toThrow();
      expect(() => parseMarkedPeerId(id), String(id)).toThrow();
    }
    for (const peer of [{ _: 'inputPeerSelf' }, { _: 'inputPeerEmpty' }, { _: 'inputUserSelf' }] as tl.TypeInputPeer[]) {
      expect(() => mtcute.getMarkedPeerId(peer)).toThrow();
      expect(() => getMarkedPeerId(peer)).toThrow();
    }
  });
});
