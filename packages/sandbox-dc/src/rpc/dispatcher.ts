/** The RpcHandler the protocol core calls: the referee's look, fault injection, access checks, then the method's handler. */
import type { RpcCall, RpcHandler, RpcReply } from '../types.js';
import { RpcContext, type MethodDef, type MethodName, type MethodTable, type RpcEnvironment } from './context.js';
import { RpcFault, notSupported } from './errors.js';
import { accountMethods } from './account.js';
import { authMethods } from './auth.js';
import { contactsMethods } from './contacts.js';
import { helpMethods } from './help.js';
import { messagesMethods } from './messages.js';
import { qrLoginMethods } from './qr-login.js';
import { updatesMethods } from './updates.js';
import { usersMethods } from './users.js';

export const allMethods: MethodTable = {
  ...authMethods,
  ...qrLoginMethods,
  ...accountMethods,
  ...usersMethods,
  ...updatesMethods,
  ...helpMethods,
  ...messagesMethods,
  ...contactsMethods,
};

export class RpcDispatcher implements RpcHandler {
  constructor(
    private readonly env: RpcEnvironment,
    private readonly methods: MethodTable = allMethods,
  ) {}

  async handle(call: RpcCall): Promise<RpcReply> {
    const name = call.method._;
    try {
      this.env.referee?.observe(call);
      const injected = this.env.faults.take(name);
      if (injected) return { error: { code: injected.code, message: injected.message } };

      if (this.env.state.keys.get(call.authKeyId)?.duplicated) return { error: { code: 406, message: 'AUTH_KEY_DUPLICATED' } };

      const def = this.methods[name as MethodName] as MethodDef<MethodName> | undefined;
      if (!def) {
        this.env.log?.('info', 'method not supported in the sandbox', { dcId: call.dcId, method: name });
        throw notSupported(name);
      }
      const ctx = new RpcContext(this.env, call);
      if (def.access === 'user') void ctx.self; // throws the right 401 when not logged in
      const result = await def.handle(ctx, call.method as never);
      return { result: result as RpcReplyResult };
    } catch (e) {
      if (e instanceof RpcFault) return { error: { code: e.code, message: e.errorMessage } };
      // A bug in a handler: log it (never the request: it may hold codes or passwords). Answered as a 400,
      // not a 500, because clients retry 500s forever and the bug would look like a hang.
      this.env.log?.('error', 'rpc handler failed', { method: name, err: e instanceof Error ? e.stack : String(e) });
      return { error: { code: 400, message: 'SANDBOX_INTERNAL_ERROR' } };
    }
  }
}

type RpcReplyResult = Extract<RpcReply, { result: unknown }>['result'];
