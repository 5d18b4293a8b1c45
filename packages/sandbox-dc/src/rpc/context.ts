/** What every API method handler gets, and how method tables are typed. */
import type { tl } from '@mtcute/core';
import type { RpcCall } from '../types.js';
import type { Account } from '../state/accounts.js';
import type { AuthKeyEntry } from '../state/auth-keys.js';
import type { SandboxState } from '../state/sandbox-state.js';
import type { KeyReferee } from '../state/key-referee.js';
import type { FaultInjector } from './faults.js';
import type { Origin, UpdateFeed } from './update-feed.js';
import { unauthorized } from './errors.js';

/** Where each DC listens (ports may only be known after the servers started, so it is read lazily). */
export interface DcAddress {
  id: number;
  host: string;
  port: number;
}

/** The DC's log sink (same shape the protocol core uses). Never pass codes, passwords or keys in `fields`. */
export type SandboxLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface RpcEnvironment {
  state: SandboxState;
  faults: FaultInjector;
  /** Current addresses of all DCs. */
  dcs(): DcAddress[];
  testMode: boolean;
  /** Stores message-box changes and pushes them to the clients' live sessions. */
  feed: UpdateFeed;
  /** Watches which instances hold each key (double owners); optional for RPC-only tests. */
  referee?: KeyReferee;
  log?: SandboxLog;
}

export class RpcContext {
  constructor(
    readonly env: RpcEnvironment,
    readonly call: RpcCall,
  ) {}

  get state(): SandboxState {
    return this.env.state;
  }

  get dcId(): number {
    return this.call.dcId;
  }

  get authKeyId(): string {
    return this.call.authKeyId;
  }

  /** The session this call came from (changes it causes are answered to it, pushed to the others). */
  get origin(): Origin {
    return { authKeyId: this.call.authKeyId, sessionId: this.call.sessionId };
  }

  get feed(): UpdateFeed {
    return this.env.feed;
  }

  get keyEntry(): AuthKeyEntry | undefined {
    return this.env.state.keys.get(this.call.authKeyId);
  }

  /**
   * The account this key is logged in as, or the 401 Telegram sends instead:
   * SESSION_PASSWORD_NEEDED (code accepted, 2FA pending), SESSION_REVOKED, USER_DEACTIVATED, AUTH_KEY_UNREGISTERED.
   */
  get self(): Account {
    const authorization = this.keyEntry?.authorization;
    if (!authorization) {
      if (this.state.passwordLogins.has(this.authKeyId)) throw unauthorized('SESSION_PASSWORD_NEEDED');
      throw unauthorized('AUTH_KEY_UNREGISTERED');
    }
    if (authorization.sessionRevoked) throw unauthorized('SESSION_REVOKED');
    const account = this.state.accounts.byId(authorization.userId);
    if (!account) throw unauthorized('AUTH_KEY_UNREGISTERED');
    if (account.deactivated) throw unauthorized('USER_DEACTIVATED');
    return account;
  }
}

export type MethodName = tl.RpcMethod['_'] & keyof tl.RpcCallReturn;
export type RequestOf<K extends MethodName> = Extract<tl.RpcMethod, { _: K }>;

/**
 * public: works on any key (login, config); user: needs a logged-in key (the dispatcher checks it
 * before calling the handler, so `ctx.self` is safe there).
 */
export type MethodAccess = 'public' | 'user';

export interface MethodDef<K extends MethodName> {
  access: MethodAccess;
  handle(ctx: RpcContext, req: RequestOf<K>): tl.RpcCallReturn[K] | Promise<tl.RpcCallReturn[K]>;
}

export type MethodTable = { [K in MethodName]?: MethodDef<K> };
