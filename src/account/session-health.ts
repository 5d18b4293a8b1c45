/**
 * What is known about an authenticated session's health, as one value: was it restored from disk,
 * has Telegram confirmed it (validation), when, and is the connection up. The account replaces it
 * through these transitions only, so the fields never disagree with each other.
 */
import type { AccountStatus } from './types.js';

export type Validation = AccountStatus['session']['validation'];
export type Connection = AccountStatus['session']['connection'];

export interface SessionHealth {
  restored: boolean;
  /** "Session restored successfully from persistent state" is still to be said for this restore. */
  restoreUnconfirmed: boolean;
  validation: Validation;
  lastValidatedAt: string | null;
  connection: Connection;
  /** When Telegram last answered — a call, or a pong on the connection (ms): the idle probe waits for silence. */
  lastContactAt: number | null;
}

export const NO_SESSION: SessionHealth = Object.freeze({
  restored: false,
  restoreUnconfirmed: false,
  validation: null,
  lastValidatedAt: null,
  connection: 'offline',
  lastContactAt: null,
});

/** Restored from disk at start: answering `authenticated` at once, validation still to come. */
export function restoredFromDisk(): SessionHealth {
  return { ...NO_SESSION, restored: true, restoreUnconfirmed: true, validation: 'pending', connection: 'connecting' };
}

/** A login that just completed: Telegram itself said yes. */
export function freshLogin(now: number): SessionHealth {
  return { ...NO_SESSION, validation: 'valid', lastValidatedAt: new Date(now).toISOString(), connection: 'online', lastContactAt: now };
}

/** Telegram answered for the session. */
export function confirmed(health: SessionHealth, now: number): SessionHealth {
  return {
    ...health,
    restoreUnconfirmed: false,
    validation: 'valid',
    lastValidatedAt: new Date(now).toISOString(),
    connection: 'online',
    lastContactAt: now,
  };
}

/** Telegram answered a ping on the connection: the connection works (nothing about the session is proven). */
export function answered(health: SessionHealth, now: number): SessionHealth {
  return { ...health, lastContactAt: now };
}

export function offline(health: SessionHealth): SessionHealth {
  return { ...health, connection: 'offline' };
}

/** Telegram answered with something unexpected: not proven good, not proven dead. */
export function validationFailed(health: SessionHealth): SessionHealth {
  return { ...health, validation: 'failed' };
}
