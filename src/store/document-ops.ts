/**
 * The in-memory rules of a session store, the same for every backend: what meta() shows of the document,
 * how a meta patch applies, which auth state is accepted, when a touch refreshes it, and the document
 * body that decides whether anything must be written.
 */
import { encodeAuthState, touchIsDue } from './auth-state.js';
import { documentBody, type SessionDocument } from './session-document.js';
import type { AuthStateFile, SessionMeta } from './types.js';

export function metaOf(doc: SessionDocument): SessionMeta {
  const meta: SessionMeta = { environment: doc.environment };
  if (doc.pendingLogin) meta.pendingLogin = structuredClone(doc.pendingLogin);
  if (doc.qrLogin) meta.qrLogin = structuredClone(doc.qrLogin);
  if (doc.loginMethod) meta.loginMethod = doc.loginMethod;
  if (doc.floodWaits) meta.floodWaits = { ...doc.floodWaits };
  return meta;
}

/** Throws TypeError for a patch that would change the environment (a key never crosses environments). */
export function checkMetaPatch(doc: SessionDocument, patch: Partial<SessionMeta>): void {
  if (patch.environment !== undefined && patch.environment !== doc.environment) {
    throw new TypeError('the session environment cannot be changed');
  }
}

export function applyMetaPatch(doc: SessionDocument, patch: Partial<SessionMeta>): void {
  if ('pendingLogin' in patch) {
    if (patch.pendingLogin) doc.pendingLogin = structuredClone(patch.pendingLogin);
    else delete doc.pendingLogin;
  }
  if ('qrLogin' in patch) {
    if (patch.qrLogin) doc.qrLogin = structuredClone(patch.qrLogin);
    else delete doc.qrLogin;
  }
  if ('loginMethod' in patch) {
    if (patch.loginMethod) doc.loginMethod = patch.loginMethod;
    else delete doc.loginMethod;
  }
  if ('floodWaits' in patch) {
    if (patch.floodWaits && Object.keys(patch.floodWaits).length > 0) doc.floodWaits = { ...patch.floodWaits };
    else delete doc.floodWaits;
  }
}

/** The auth state as stored (the seed's fields only); TypeError when it is not a valid one. */
export function checkedAuthState(state: AuthStateFile): AuthStateFile {
  if (!Number.isSafeInteger(state.user_id) || state.user_id <= 0 || Number.isNaN(Date.parse(state.saved_at))) {
    throw new TypeError('invalid auth state');
  }
  return { user_auth: true, user_id: state.user_id, phone: state.phone, saved_at: state.saved_at, version: '1.0' };
}

/** The refreshed auth state when a touch at `now` is due, else undefined. */
export function touchedAuthState(auth: AuthStateFile | undefined, now: Date, minIntervalMs?: number): AuthStateFile | undefined {
  if (!auth || !touchIsDue(auth, now, minIntervalMs)) return undefined;
  return { ...auth, saved_at: now.toISOString() };
}

/** The document as compared for "changed?" (everything but savedAt). */
export function bodyOf(doc: SessionDocument): string {
  return JSON.stringify(documentBody(doc));
}

export function authContent(state: AuthStateFile): string {
  return encodeAuthState(state).toString('utf8');
}
