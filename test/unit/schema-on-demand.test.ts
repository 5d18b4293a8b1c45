/**
 * The store's zod schemas are built on demand and held weakly (src/store/schema-on-demand.ts): one build
 * while a schema is in use, the same object for every read meanwhile, and a new build once the old one was
 * collected — the documents parse the same either way.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { schemaOnDemand } from '../../src/store/schema-on-demand.js';
import { decodeAuthState, encodeAuthState } from '../../src/store/auth-state.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/**
 * Collects what nothing holds. zod keeps the first schema of each kind it builds (the lazy members it installs on
 * the prototype close over it) and the last one it set up; a WeakRef's target lives to the end of the job that
 * read it. So: schemas of the same kinds built and dropped, turns of the loop, then a full collection.
 */
async function collect(): Promise<void> {
  z.object({ n: z.number().int(), other: z.string() }).safeParse({});
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setTimeout(resolve, 1));
  gc();
}

describe('schemaOnDemand', () => {
  it('builds once while the schema is held, and again after it was collected', async () => {
    await collect(); // the first schema of each kind is zod's to keep: not this one
    let builds = 0;
    const schema = schemaOnDemand(() => (builds++, z.object({ n: z.number().int() })));
    let held: object | undefined = schema();
    const same = schema() === held; // (not handed to expect(), which would keep it alive)
    const parsed = schema().safeParse({ n: 1 }).success;
    expect([same, parsed, builds]).toEqual([true, true, 1]);

    held = undefined;
    await collect();
    expect(schema().safeParse({ n: 'one' }).success).toBe(false);
    expect(builds).toBe(2);
  });

  it('a store document read after its schema was collected reads the same', async () => {
    const file = encodeAuthState({ user_auth: true, user_id: 42, phone: '+15550001111', saved_at: new Date(0).toISOString(), version: '1.0' });
    const first = decodeAuthState('auth_state.json', file);
    await collect();
    expect(decodeAuthState('auth_state.json', file)).toEqual(first);
    expect(() => decodeAuthState('auth_state.json', Buffer.from('{"user_auth":false}'))).toThrow();
  });
});
