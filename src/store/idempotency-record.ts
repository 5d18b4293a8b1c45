/**
 * An Idempotency-Key as every backend stores it (files/idempotency-file.ts: a JSON line; PostgreSQL: a row's
 * record column), checked the same way when read back, and forgotten at its expiry.
 */
import * as z from 'zod';
import { schemaOnDemand } from './schema-on-demand.js';
import type { IdempotencyRecord } from './types.js';

export const idempotencyRecordSchema = schemaOnDemand(() =>
  z.object({
    key: z.string().min(1).max(256),
    requestHash: z.string().regex(/^[0-9a-f]{64}$/),
    state: z.enum(['pending', 'done']),
    randomId: z.string().regex(/^-?[0-9]{1,20}$/),
    peer: z.number().int().optional(),
    textHash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    createdAt: z.string().max(64),
    expiresAt: z.string().max(64),
    answer: z.object({ status: z.number().int(), body: z.unknown() }).optional(),
  }),
);

/** The record, when `value` is one; undefined otherwise. */
export function idempotencyRecordOf(value: unknown): IdempotencyRecord | undefined {
  const parsed = idempotencyRecordSchema().safeParse(value);
  return parsed.success ? (parsed.data as IdempotencyRecord) : undefined;
}

export function isExpired(record: IdempotencyRecord, now: number): boolean {
  return Date.parse(record.expiresAt) <= now;
}

/** The message a done record answered in `peer`'s chat (so two keys never claim one message). */
export function claimedMessageId(record: IdempotencyRecord, peer: number): number | undefined {
  const id = (record.answer?.body as { id?: unknown } | undefined)?.id;
  return record.state === 'done' && record.peer === peer && typeof id === 'number' ? id : undefined;
}
