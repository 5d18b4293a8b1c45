/**
 * One RPC call with a deadline: mtcute retries connections forever, so every call the service makes is
 * bounded (CLIENT_READY_TIMEOUT) and its failure classified.
 */
import type { RpcCallOptions, tl } from '@mtcute/core';
import type { TelegramClient } from '@mtcute/node';
import { CallTimeoutError, TelegramCallError } from './call-error.js';
import { classifyTelegramError } from './errors.js';

type AnyCall = (request: tl.RpcMethod, params?: RpcCallOptions) => Promise<unknown>;

export async function callTelegram<T extends tl.RpcMethod>(
  client: TelegramClient,
  request: T,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<tl.RpcCallReturn[T['_']]> {
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  // Racing a timer as well as aborting: the first call also waits for the connection, which no signal reaches.
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const err = new CallTimeoutError(opts.timeoutMs);
      controller.abort(err);
      reject(err);
    }, opts.timeoutMs);
  });
  try {
    const call = (client.call as AnyCall).call(client, request, { abortSignal: controller.signal, floodSleepThreshold: 0 });
    call.catch(() => undefined); // a late rejection after the deadline won is not an unhandled one
    return (await Promise.race([call, deadline])) as tl.RpcCallReturn[T['_']];
  } catch (err) {
    throw new TelegramCallError(request._, classifyTelegramError(err), { cause: err });
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
}
