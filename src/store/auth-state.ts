/**
 * auth_state.json: exactly the seed's format
 *   {"user_auth": true, "user_id": 123, "phone": "+…", "saved_at": "<ISO>", "version": "1.0"}
 * and the rule for refreshing saved_at on activity (at most once per interval).
 */
import * as z from 'zod';
import { schemaOnDemand } from './schema-on-demand.js';
import { SessionFileError } from './errors.js';
import type { AuthStateFile } from './types.js';

export const AUTH_STATE_MAX_BYTES = 64 * 1024;
/** saved_at is refreshed by API activity at most this often by default. */
export const DEFAULT_TOUCH_INTERVAL_MS = 10 * 60 * 1000;

const authStateSchema = schemaOnDemand(() =>
  z.object({
    user_auth: z.literal(true),
    user_id: z.number().int().positive(),
    phone: z.string().max(64),
    saved_at: z.string().max(64).refine((s) => !Number.isNaN(Date.parse(s)), 'not a date'),
    version: z.literal('1.0'),
  }),
);

export function encodeAuthState(state: AuthStateFile): Buffer {
  // Field order fixed as in the seed; nothing else is written.
  const ordered: AuthStateFile = {
    user_auth: true,
    user_id: state.user_id,
    phone: state.phone,
    saved_at: state.saved_at,
    version: '1.0',
  };
  return Buffer.from(JSON.stringify(ordered, null, 2) + '\n', 'utf8');
}

/** Throws SessionFileError (corrupt / unsupported_version). */
export function decodeAuthState(file: string, bytes: Uint8Array): AuthStateFile {
  const text = Buffer.from(bytes).toString('utf8');
  if (text.trim() === '') throw new SessionFileError(file, 'corrupt', `${file} is empty`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SessionFileError(file, 'corrupt', `${file} is not valid JSON (truncated or damaged)`);
  }
  if (typeof value === 'object' && value !== null && 'version' in value && value.version !== '1.0') {
    throw new SessionFileError(file, 'unsupported_version', `${file} has version ${JSON.stringify(value.version)}; expected "1.0"`);
  }
  const parsed = authStateSchema().safeParse(value);
  if (!parsed.success) {
    const where = parsed.error.issues[0]?.path.join('.') || '(root)';
    throw new SessionFileError(file, 'corrupt', `${file} does not have the shape of an auth state (at ${where})`);
  }
  return parsed.data as AuthStateFile;
}

/** Whether a touch at `now` should rewrite saved_at (never backwards; at most once per interval). */
export function touchIsDue(state: AuthStateFile, now: Date, minIntervalMs = DEFAULT_TOUCH_INTERVAL_MS): boolean {
  const last = Date.parse(state.saved_at);
  if (Number.isNaN(last)) return true;
  return now.getTime() - last >= minIntervalMs;
}
