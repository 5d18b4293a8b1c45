import type Long from 'long';

export type WindowVerdict = 'new' | 'duplicate' | 'too-old';

/**
 * The most recent client msg_ids of one session, for replay detection. Ids need not arrive in order;
 * an id already seen is a duplicate, and once the window is full an id below its lowest entry can no
 * longer be checked ("too old", bad_msg_notification 20).
 */
export class MsgIdWindow {
  private readonly ids: Long[] = [];
  constructor(private readonly capacity = 1000) {}

  add(id: Long): WindowVerdict {
    const ids = this.ids;
    // Fast path: ids normally increase.
    if (ids.length === 0 || id.gt(ids[ids.length - 1])) {
      ids.push(id);
    } else {
      let lo = 0;
      let hi = ids.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ids[mid].lt(id)) lo = mid + 1;
        else hi = mid;
      }
      if (lo < ids.length && ids[lo].eq(id)) return 'duplicate';
      if (lo === 0 && ids.length >= this.capacity) return 'too-old';
      ids.splice(lo, 0, id);
    }
    if (ids.length > this.capacity) ids.shift();
    return 'new';
  }

  has(id: Long): boolean {
    return this.ids.some((x) => x.eq(id));
  }

  /** The lowest id still remembered (undefined when empty). */
  get lowest(): Long | undefined {
    return this.ids[0];
  }
}
