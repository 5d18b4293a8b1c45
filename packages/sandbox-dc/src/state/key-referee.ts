/**
 * The DC as referee between service instances that share accounts (issue 8): it notes, per auth key,
 * which instance holds live connections — an instance is named by the initConnection it sent on its
 * session (device_model, with app_version) — and counts the moments when two different instances held
 * open connections for one key at once, which on Telegram is how a key ends up AUTH_KEY_DUPLICATED.
 *
 * It looks at every request: clients make one on every new connection (mtcute's updates.getState, or
 * whatever call carries initConnection), so an instance that connects while another is connected is
 * seen at once. A hand-over (the first disconnects, then the second connects) is not a moment. A
 * connection counts as live while the DC holds it open (a frozen process's socket too).
 */
import type { AuthKeyRecord, LiveSessions, RpcCall } from '../types.js';

export interface DoubleOwnerMoment {
  authKeyId: string;
  dcId: number;
  /** The instances that held the key at once, sorted. */
  instances: string[];
  /** Unix ms when the DC noticed it. */
  at: number;
}

export interface DoubleOwnerReport {
  /** Moments since the DC started (or the last reset). */
  count: number;
  /** The latest moments (at most MAX_KEPT), oldest first. */
  moments: DoubleOwnerMoment[];
}

const MAX_KEPT = 1000;
const MAX_SESSIONS_TRACKED = 200_000;

/** How an instance is named: its device model, with the app version when there is one. */
export function instanceName(client: NonNullable<AuthKeyRecord['client']>): string {
  return client.appVersion ? `${client.deviceModel} (${client.appVersion})` : client.deviceModel;
}

export class KeyReferee {
  /** `${authKeyId}:${sessionId}` → instance. */
  private readonly instanceOfSession = new Map<string, string>();
  /** Keys held by two instances right now (as last seen), with the moment that began it. */
  private readonly ongoing = new Map<string, DoubleOwnerMoment>();
  private readonly kept: DoubleOwnerMoment[] = [];
  private count = 0;

  constructor(
    private readonly live: Pick<LiveSessions, 'liveSessionIds'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** One request on a key: learns its session's instance, then checks who holds the key. */
  observe(call: Pick<RpcCall, 'authKeyId' | 'dcId' | 'sessionId' | 'client'>): void {
    if (call.client) this.remember(`${call.authKeyId}:${call.sessionId}`, instanceName(call.client));
    const instances = new Set<string>();
    for (const sessionId of this.live.liveSessionIds(call.authKeyId)) {
      const name = this.instanceOfSession.get(`${call.authKeyId}:${sessionId}`);
      if (name !== undefined) instances.add(name);
    }
    if (instances.size < 2) {
      this.ongoing.delete(call.authKeyId);
      return;
    }
    const current = this.ongoing.get(call.authKeyId);
    if (current) {
      for (const name of instances) if (!current.instances.includes(name)) current.instances = [...current.instances, name].sort();
      return;
    }
    const moment: DoubleOwnerMoment = { authKeyId: call.authKeyId, dcId: call.dcId, instances: [...instances].sort(), at: this.now() };
    this.ongoing.set(call.authKeyId, moment);
    this.kept.push(moment);
    if (this.kept.length > MAX_KEPT) this.kept.shift();
    this.count++;
  }

  report(): DoubleOwnerReport {
    return { count: this.count, moments: this.kept.map((m) => ({ ...m, instances: [...m.instances] })) };
  }

  reset(): void {
    this.count = 0;
    this.kept.length = 0;
    this.ongoing.clear();
  }

  private remember(sessionKey: string, name: string): void {
    this.instanceOfSession.delete(sessionKey); // keep insertion order = recency
    this.instanceOfSession.set(sessionKey, name);
    if (this.instanceOfSession.size > MAX_SESSIONS_TRACKED) {
      const oldest = this.instanceOfSession.keys().next().value as string;
      this.instanceOfSession.delete(oldest);
    }
  }
}
