/**
 * Start-up: what the files on disk say the account's state is, before any network (the seed's
 * "Server Restart Process"). Validation against Telegram happens afterwards, in the background.
 */
import type { AuthStateFile, PendingLogin, PendingQrLogin, SessionStore } from '../store/types.js';

export type StartupDecision =
  | { state: 'logged_out'; reason?: string; staleAuthState?: boolean }
  | { state: 'expired'; authState: AuthStateFile }
  | { state: 'authenticated'; authState: AuthStateFile }
  | { state: 'code_sent' | 'password_required'; pending: PendingLogin }
  /** A QR login in progress: a new code (qr_pending), or its 2FA password step (password_required). */
  | { state: 'qr_pending' | 'qr_password_required'; qrLogin: PendingQrLogin };

/** saved_at is refreshed by API activity at most this often, whatever SESSION_MAX_IDLE is (when it is long). */
const MAX_TOUCH_INTERVAL_MS = 10 * 60 * 1000;
const MIN_TOUCH_INTERVAL_MS = 1000;

/**
 * How often API activity refreshes saved_at: a tenth of SESSION_MAX_IDLE (at most 10 min, at least 1 s),
 * so an active session is never more than 10 % of the limit behind — and never expired by a restart.
 */
export function touchIntervalMs(maxIdleMs: number): number {
  if (maxIdleMs <= 0) return MAX_TOUCH_INTERVAL_MS;
  return Math.min(MAX_TOUCH_INTERVAL_MS, Math.max(MIN_TOUCH_INTERVAL_MS, Math.floor(maxIdleMs / 10)));
}

export function authStateExpiresAt(authState: AuthStateFile, maxIdleMs: number, savedAt = Date.parse(authState.saved_at)): number | null {
  if (maxIdleMs <= 0) return null;
  return Number.isNaN(savedAt) ? 0 : savedAt + maxIdleMs;
}

export function decideStartupState(store: SessionStore, maxIdleMs: number, now = Date.now()): StartupDecision {
  const authState = store.authState();
  if (!store.hasSession()) {
    // auth_state.json without the keys it describes cannot be restored.
    if (authState) return { state: 'logged_out', reason: 'SESSION_FILE_MISSING', staleAuthState: true };
    // A session.json the store left untouched (another environment's) says why we start logged out.
    const problem = store.loadProblem?.();
    return problem ? { state: 'logged_out', reason: problem.reason } : { state: 'logged_out' };
  }
  if (authState) {
    const expiresAt = authStateExpiresAt(authState, maxIdleMs);
    if (expiresAt !== null && expiresAt <= now) return { state: 'expired', authState };
    return { state: 'authenticated', authState };
  }
  const qrLogin = store.meta()?.qrLogin;
  if (qrLogin) return { state: qrLogin.passwordRequired ? 'qr_password_required' : 'qr_pending', qrLogin };
  const pending = store.meta()?.pendingLogin;
  if (pending) return { state: pending.passwordRequired ? 'password_required' : 'code_sent', pending };
  // A key that never finished logging in: kept, the next login reuses it.
  return { state: 'logged_out' };
}
