/** rpc_error as a thrown value inside handlers; the dispatcher turns it into an RpcErrorReply. */
export class RpcFault extends Error {
  constructor(
    readonly code: number,
    readonly errorMessage: string,
  ) {
    super(`${code} ${errorMessage}`);
  }
}

export const badRequest = (message: string): RpcFault => new RpcFault(400, message);
export const unauthorized = (message: string): RpcFault => new RpcFault(401, message);
/** 303 SEE_OTHER: the request belongs on another DC (PHONE_MIGRATE_X, USER_MIGRATE_X, …). */
export const seeOther = (message: string): RpcFault => new RpcFault(303, message);

/** Error message for a method the sandbox does not implement (Telegram-style: upper case, digits, '_'). */
export function notSupported(method: string): RpcFault {
  const name = method.replace(/[^a-zA-Z0-9]+/g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
  return badRequest(`METHOD_NOT_SUPPORTED_IN_SANDBOX_${name}`);
}
