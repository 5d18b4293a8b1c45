/**
 * A failed Telegram call, classified. Kept apart from rpc.ts (which needs mtcute) so the account's state
 * machine can recognise these errors without loading mtcute (see telegram/load.ts).
 */
import type { TelegramErrorKind } from './errors.js';

export class TelegramCallError extends Error {
  constructor(
    readonly method: string,
    readonly classified: TelegramErrorKind,
    options?: { cause?: unknown },
  ) {
    super(`${method} failed: ${classified.text}`, options);
    this.name = 'TelegramCallError';
  }
}

export class CallTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`No answer from Telegram within ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}
