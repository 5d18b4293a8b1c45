/**
 * The status of an account that no instance runs right now (being taken over, or just created), from what
 * its store holds: the state a restore would start in (restore.ts), not validated yet, not connected.
 */
import type { Config } from '../config/types.js';
import { maskPhone } from '../logging/index.js';
import type { SessionStore } from '../store/types.js';
import { authStateExpiresAt, decideStartupState } from './restore.js';
import type { AccountStatus } from './types.js';

export function storedStatus(id: string, store: SessionStore, config: Pick<Config, 'environment' | 'sessionMaxIdleMs'>, now = Date.now()): AccountStatus {
  const decision = decideStartupState(store, config.sessionMaxIdleMs, now);
  const authState = store.authState();
  const authenticated = decision.state === 'authenticated';
  const expiresAt = authState ? authStateExpiresAt(authState, config.sessionMaxIdleMs) : null;
  return {
    id,
    // A QR login waiting for the 2FA password is `password_required` to clients, as in account.ts.
    state: decision.state === 'qr_password_required' ? 'password_required' : decision.state,
    authenticated,
    environment: config.environment,
    user: authenticated && authState ? { id: authState.user_id, username: null, firstName: '', lastName: null, phone: maskPhone(authState.phone) } : null,
    session: {
      restored: authenticated,
      savedAt: authState?.saved_at ?? null,
      expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(),
      validation: authenticated ? 'pending' : null,
      lastValidatedAt: null,
      connection: authenticated ? 'connecting' : 'offline',
      loginMethod: authenticated ? (store.meta()?.loginMethod ?? null) : null,
    },
    ...(decision.state === 'expired' ? { reason: 'SESSION_MAX_IDLE' } : {}),
    ...(decision.state === 'logged_out' && decision.reason ? { reason: decision.reason } : {}),
  };
}

/** A published status whose holder is gone: what it said, but not connected and to be validated again. */
export function orphanedStatus(published: AccountStatus): AccountStatus {
  if (!published.authenticated) return { ...published, session: { ...published.session, connection: 'offline' } };
  return { ...published, session: { ...published.session, validation: 'pending', connection: 'connecting' } };
}
