/**
 * The seed's "Session Recovery Process": after AUTH_KEY_UNREGISTERED, a fresh client over session.json
 * reloaded from disk, and getMe again. Success keeps the user logged in; a definite failure clears the
 * auth state and the dead key; a network failure decides nothing (the caller retries later).
 */
import type { tl } from '@mtcute/core';
import type { Logger } from 'pino';
import type { SessionStore } from '../store/types.js';
import type { TelegramErrorKind } from '../telegram/errors.js';
import { TelegramCallError } from '../telegram/call-error.js';
import { LOG_MESSAGES } from '../logging/messages.js';

export type RecoveryResult =
  | { outcome: 'recovered'; user: tl.RawUser }
  | { outcome: 'failed'; reason: string }
  | { outcome: 'revoked'; reason: string }
  | { outcome: 'inconclusive'; error: TelegramErrorKind };

export interface RecoveryDeps {
  store: SessionStore;
  logger: Logger;
  /** Destroy the current client (its pending state is written out first). */
  dropClient(): Promise<void>;
  /** getMe over a client freshly built from the store. */
  getMeWithFreshClient(): Promise<tl.RawUser>;
  /** Remove auth_state.json and the dead key from session.json. */
  clearDeadSession(): Promise<void>;
}

export async function recoverSession(deps: RecoveryDeps, trigger: string): Promise<RecoveryResult> {
  const { store, logger } = deps;
  logger.warn({ trigger }, LOG_MESSAGES.recoveryAttempt);
  await deps.dropClient();
  try {
    await store.load();
  } catch (err) {
    logger.error({ err }, 'Session recovery could not reload session.json; keeping the session and retrying later');
    return { outcome: 'inconclusive', error: { kind: 'network', text: 'SESSION_RELOAD_FAILED' } };
  }
  try {
    const user = await deps.getMeWithFreshClient();
    logger.info({ userId: user.id }, LOG_MESSAGES.recoverySucceeded);
    return { outcome: 'recovered', user };
  } catch (err) {
    const classified: TelegramErrorKind =
      err instanceof TelegramCallError ? err.classified : { kind: 'network', text: 'CLIENT_START_FAILED' };
    if (classified.kind === 'network' || classified.kind === 'flood_wait') {
      logger.warn({ error: classified.text }, 'Session recovery interrupted by a network problem; keeping the session and retrying later');
      return { outcome: 'inconclusive', error: classified };
    }
    if (classified.kind === 'revoked') return { outcome: 'revoked', reason: classified.text };
    logger.warn({ error: classified.text }, LOG_MESSAGES.recoveryFailed);
    await deps.dropClient();
    await deps.clearDeadSession();
    return { outcome: 'failed', reason: classified.text };
  }
}
