/**
 * mtcute is loaded on first use, not at start-up: restoring the accounts from disk and answering status
 * need none of it, and loading it is most of a start's time and a good part of its memory. The first
 * client built (a background validation, a login) loads it; the service also loads it once the HTTP API
 * listens, so a first request does not wait for it.
 */
export type TelegramRuntime = typeof import('./runtime.js');

let loading: Promise<TelegramRuntime> | undefined;

export function loadTelegram(): Promise<TelegramRuntime> {
  loading ??= import('./runtime.js');
  return loading;
}
