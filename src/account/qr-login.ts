/**
 * The Telegram side of a QR login (core.telegram.org/api/qr-login), with raw calls rather than mtcute's
 * signInQr (which in 0.30 can still switch the client's DC after an abort):
 *
 *   auth.exportLoginToken → auth.loginToken{token, expires}: shown as tg://login?token=<base64url>, and
 *     asked for again shortly before it expires (a new token), or at once when Telegram pushes
 *     updateLoginToken (the code was scanned);
 *   → auth.loginTokenSuccess{authorization}: logged in;
 *   → auth.loginTokenMigrateTo{dc_id, token}: the user lives on another DC — the client's primary DC
 *     becomes that one (a key is made there) and auth.importLoginToken{token} finishes there;
 *   401 SESSION_PASSWORD_NEEDED from either: the 2FA password step follows (verify-password).
 *
 * Every wait and call stops when `signal` aborts; nothing is done on the client after that.
 */
import type { tl } from '@mtcute/core';
import { TelegramCallError } from '../telegram/call-error.js';
import { isPasswordNeeded, onAuthorization, passwordStep, type LoginClient } from './login-flow.js';
import { AccountError, type QrCode } from './types.js';
import { exponentialDelayMs } from '../timing/backoff.js';

export interface QrLoginClient extends LoginClient {
  /** Makes `dcId` the client's primary DC (its key there is made on first use). */
  changePrimaryDc(dcId: number): Promise<void>;
  /** Calls `listener` when Telegram pushes updateLoginToken; returns the unsubscribe function. */
  onLoginTokenUpdate(listener: () => void): () => void;
}

export type QrOutcome = { kind: 'authorized'; user: tl.RawUser } | { kind: 'password_required'; hint: string | null };

export interface QrLoginOptions {
  client: QrLoginClient;
  signal: AbortSignal;
  /** A new code to show (the first one, then each refresh). */
  onCode(code: QrCode): void;
  /** Telegram said the code was scanned. */
  onScanned?(): void;
  /** Transient failures (network, FLOOD_WAIT) are waited out and retried — before the first code only when set. */
  retryBeforeFirstCode?: boolean;
  /** Unix ms after which no new code is asked for: the attempt ends with QR_LOGIN_EXPIRED. */
  deadline?: number;
  /** How long before a token's expiry the next one is asked for (default 2 s). */
  refreshLeadMs?: number;
  /** Cap of the retry delay after a transient failure (default 30 s). */
  retryCapMs?: number;
  now?: () => number;
}

const DEFAULT_REFRESH_LEAD_MS = 2000;
/** Never ask again sooner than this (a clock skew must not turn the loop into a busy one). */
const MIN_WAIT_MS = 250;
const RETRY_BASE_MS = 1000;

export function loginUrl(token: Uint8Array): string {
  return `tg://login?token=${Buffer.from(token).toString('base64url')}`;
}

/** Runs the QR login until it is logged in or needs the password; throws on failure or abort. */
export async function runQrLogin(opts: QrLoginOptions): Promise<QrOutcome> {
  const { client, signal } = opts;
  const now = opts.now ?? Date.now;
  const lead = opts.refreshLeadMs ?? DEFAULT_REFRESH_LEAD_MS;
  /** A push came that the export after it has not answered yet. */
  let scanPending = false;
  let wake: (() => void) | undefined;
  const unsubscribe = client.onLoginTokenUpdate(() => {
    scanPending = true;
    opts.onScanned?.();
    wake?.();
  });
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        wake = undefined;
        resolve();
      };
      const onAbort = (): void => {
        clearTimeout(timer);
        wake = undefined;
        reject(signal.reason);
      };
      const timer = setTimeout(done, Math.max(0, ms));
      timer.unref();
      signal.addEventListener('abort', onAbort, { once: true });
      wake = done;
    });

  let shown: string | undefined;
  let failures = 0;
  try {
    for (;;) {
      signal.throwIfAborted();
      if (opts.deadline !== undefined && now() >= opts.deadline) {
        throw new AccountError('QR_LOGIN_EXPIRED', 'The QR code was not scanned in time (QR_LOGIN_TIMEOUT); start a new QR login');
      }
      let step: Step;
      try {
        scanPending = false;
        step = await exportStep(client);
        failures = 0;
      } catch (err) {
        const waitMs = transientWaitMs(err, ++failures, opts.retryCapMs);
        if (waitMs === undefined || (shown === undefined && !opts.retryBeforeFirstCode)) throw err;
        await sleep(waitMs);
        continue;
      }
      signal.throwIfAborted();
      if (step.kind !== 'token') return step.outcome;
      const url = loginUrl(step.token.token);
      const expiresAt = step.token.expires * 1000;
      const sameAsShown = url === shown;
      if (!sameAsShown) {
        shown = url;
        opts.onCode({ url, expiresAt: new Date(expiresAt).toISOString() });
      }
      // A push during that call: ask once more at once. Otherwise a new token is asked for shortly
      // before this one expires (a DC that still answers the same one is asked again just after the
      // expiry); a push wakes the loop at once.
      if (scanPending) {
        scanPending = false;
        continue;
      }
      const askAt = sameAsShown && now() >= expiresAt - lead ? expiresAt + MIN_WAIT_MS : expiresAt - lead;
      await sleep(Math.max(MIN_WAIT_MS, askAt - now()));
    }
  } finally {
    unsubscribe();
  }
}

type Step = { kind: 'token'; token: tl.auth.RawLoginToken } | { kind: 'done'; outcome: QrOutcome };

/** One auth.exportLoginToken, and what follows from its answer without waiting. */
async function exportStep(client: QrLoginClient): Promise<Step> {
  let answer: tl.auth.TypeLoginToken;
  try {
    answer = await client.rpc({ _: 'auth.exportLoginToken', apiId: client.apiId, apiHash: client.apiHash, exceptIds: [] });
  } catch (err) {
    if (isPasswordNeeded(err)) return { kind: 'done', outcome: await passwordStep(client) };
    throw err;
  }
  switch (answer._) {
    case 'auth.loginToken':
      return { kind: 'token', token: answer };
    case 'auth.loginTokenSuccess':
      return { kind: 'done', outcome: { kind: 'authorized', user: await onAuthorization(client, answer.authorization) } };
    case 'auth.loginTokenMigrateTo':
      return { kind: 'done', outcome: await importOnHomeDc(client, answer) };
  }
}

async function importOnHomeDc(client: QrLoginClient, migrate: tl.auth.RawLoginTokenMigrateTo): Promise<QrOutcome> {
  await client.changePrimaryDc(migrate.dcId);
  let answer: tl.auth.TypeLoginToken;
  try {
    answer = await client.rpc({ _: 'auth.importLoginToken', token: migrate.token });
  } catch (err) {
    if (isPasswordNeeded(err)) return passwordStep(client);
    throw err;
  }
  if (answer._ !== 'auth.loginTokenSuccess') {
    throw new AccountError('TELEGRAM_ERROR', `Telegram answered the QR login on DC ${migrate.dcId} with ${answer._}`);
  }
  return { kind: 'authorized', user: await onAuthorization(client, answer.authorization) };
}

/** How long to wait before asking again after `err`, or undefined when it is not worth retrying. */
function transientWaitMs(err: unknown, failures: number, capMs = 30_000): number | undefined {
  if (err instanceof AccountError && err.code === 'FLOOD_WAIT') return (err.retryAfterSeconds ?? 1) * 1000;
  if (!(err instanceof TelegramCallError)) return undefined;
  if (err.classified.kind === 'flood_wait') return err.classified.seconds * 1000;
  if (err.classified.kind !== 'network') return undefined;
  return exponentialDelayMs(failures, RETRY_BASE_MS, capMs);
}
