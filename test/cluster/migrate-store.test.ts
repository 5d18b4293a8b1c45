/**
 * `npm run migrate-store`: a data directory's accounts (encrypted at rest) go to PostgreSQL and back, and
 * everything survives both moves — the real service on each side restores every account to valid with no
 * new login (no new auth key at the DC), the scoped tokens keep working, the event journal has the same
 * events under the same ids (still sealed) and goes on from there, the webhook keeps its cursor, an
 * Idempotency-Key still answers its message, and future auth tokens still log a logged-out account in.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deduped, webhookReceiver, type Event } from '../../dev/event-clients.js';
import { postgresPerFile } from '../helpers/postgres.js';
import { eventually, loginThrough, uniquePhone, waitForStatus, type Body } from '../helpers/sandbox-service.js';
import { REPO_ROOT, sandboxPerFile, type ServiceProcess } from '../helpers/service-process.js';

const db = postgresPerFile();
const sandbox = sandboxPerFile();
const roots: string[] = [];
afterAll(() => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
});

const KEY = randomBytes(32).toString('hex');
const TOKEN = randomBytes(24).toString('base64url');
const SECRET = randomBytes(16).toString('hex');
const valid = (body: Body): boolean => body.state === 'authenticated' && body.session.validation === 'valid';

function freshDataDir(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'migrate-store-'));
  roots.push(root);
  return path.join(root, 'data');
}

function migrateStore(direction: string, dataDir: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'store', 'migrate-store.js'), direction], {
    env: { PATH: process.env.PATH, DATA_DIR: dataDir, DATABASE_URL: db.url },
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const json = { headers: { accept: 'application/json' } };

describe('migrate-store', () => {
  it('files → PostgreSQL → files keeps every login, token, event, webhook, Idempotency-Key and future auth token', async () => {
    const ids = ['m-alice', 'm-bob'];
    const phones = new Map(ids.map((id) => [id, uniquePhone('1562')]));
    const filesDir = freshDataDir();
    const env = { SESSION_ENCRYPTION_KEY: KEY, API_TOKEN: TOKEN };
    const receiver = await webhookReceiver(SECRET);
    const files = await sandbox.service({ dataDir: filesDir, env });
    for (const id of ids) {
      expect((await files.request('POST', '/api/accounts', { id })).status).toBe(201);
      sandbox.dc.controls.createUser({ phone: phones.get(id)! });
      await loginThrough(files, sandbox.dc, phones.get(id)!, undefined, id);
    }
    const scoped = await files.request('POST', '/api/accounts/m-alice/tokens', {});
    expect(scoped.status).toBe(201);
    // Alice: a webhook and a few events; Bob: a message sent once under an Idempotency-Key, then logged out
    // (his future auth tokens are all that is left of his login).
    expect((await files.request('PUT', '/api/accounts/m-alice/webhook', { url: receiver.url, secret: SECRET })).status).toBe(200);
    const aliceId = sandbox.dc.controls.getUser(phones.get('m-alice')!)!.id;
    for (const text of ['to alice 0', 'to alice 1']) sandbox.dc.controls.deliverMessage(phones.get('m-bob')!, phones.get('m-alice')!, text);
    const sentOnce = await files.request('POST', '/api/accounts/m-bob/messages', { peer: String(aliceId), text: 'sent once' }, { headers: { 'idempotency-key': 'order-1' } });
    expect(sentOnce.status).toBe(200);
    const texts = ['to alice 0', 'to alice 1', 'sent once'];
    const aliceEvents = async (svc: ServiceProcess): Promise<Event[]> => (await svc.request('GET', '/api/accounts/m-alice/events?after=0', undefined, json)).body.events;
    const messagesOf = (events: Event[]): string[] => events.filter((e) => e.type === 'message.new').map((e) => e.message.text);
    await eventually(async () => messagesOf(await aliceEvents(files)).length === 3 && deduped(receiver.accepted).length >= 3, 'alice’s events journaled and delivered');
    const journaled = await aliceEvents(files);
    expect(messagesOf(journaled)).toEqual(texts);
    await eventually(async () => (await files.request('GET', '/api/accounts/m-alice/webhook')).body.lastDeliveredId === journaled.at(-1)!.id, 'the webhook cursor saved');
    expect((await files.request('POST', '/api/accounts/m-bob/auth/logout')).body.state).toBe('logged_out');
    expect(await files.stop()).toBe(0);
    const keys = sandbox.dc.controls.listAuthKeys().length;
    // The journal is sealed at rest: no text in the files.
    const segments = path.join(filesDir, 'accounts', 'm-alice', 'events');
    for (const name of fs.readdirSync(segments)) expect(fs.readFileSync(path.join(segments, name), 'utf8')).not.toContain('to alice');

    const toDb = migrateStore('files-to-postgres', filesDir);
    expect(toDb.status, toDb.stderr).toBe(0);
    expect(toDb.stdout).toContain('2 accounts copied');
    expect(toDb.stdout).toContain(`m-alice: copied (session, auth state, ${journaled.length} events, future auth tokens, webhook)`);
    expect(toDb.stdout).toMatch(/m-bob: copied \(no session, no auth state, \d+ events, future auth tokens, 1 Idempotency-Keys\)/);
    // Again: nothing is overwritten, nothing copied twice.
    expect(migrateStore('files-to-postgres', filesDir).stdout).toContain('0 accounts copied, 2 left as they were');
    expect(JSON.stringify((await db.pool().query("SELECT * FROM tgs_events WHERE account_id = 'm-alice'")).rows)).not.toContain('to alice');

    const clustered = await sandbox.service({ env: { ...env, STORE: 'postgres', DATABASE_URL: db.url, INSTANCE_ID: 'm1', LEASE_TTL: '5s' } });
    await waitForStatus(clustered, valid, 'm-alice valid from PostgreSQL', { account: 'm-alice' });
    expect((await clustered.request('GET', '/api/accounts/m-alice/status', undefined, { token: scoped.body.token })).status).toBe(200);
    expect(sandbox.dc.controls.listAuthKeys().length).toBe(keys); // no new login
    // The same events with the same ids; the webhook and its cursor came along, and ids go on.
    expect(await aliceEvents(clustered)).toEqual(journaled);
    expect((await clustered.request('GET', '/api/accounts/m-alice/webhook')).body).toMatchObject({ url: receiver.url, lastDeliveredId: journaled.at(-1)!.id, backlog: 0 });
    sandbox.dc.controls.deliverMessage(phones.get('m-bob')!, phones.get('m-alice')!, 'to alice in postgres');
    await eventually(() => deduped(receiver.accepted).some((e) => e.message?.text === 'to alice in postgres'), 'the new event at the webhook');
    const inPostgres = await aliceEvents(clustered);
    expect(inPostgres.map((e) => e.id)).toEqual([...journaled.map((e) => e.id), journaled.at(-1)!.id + 1]);
    expect(deduped(receiver.accepted).map((e) => e.id)).toEqual(inPostgres.map((e) => e.id));
    // Bob logs in without a code (the tokens came along); his Idempotency-Key answers the same message.
    expect((await clustered.request('POST', '/api/accounts/m-bob/auth/send-code', { phone: phones.get('m-bob') })).body).toMatchObject({ state: 'authenticated', loginMethod: 'future_auth_token' });
    const replay = await clustered.request('POST', '/api/accounts/m-bob/messages', { peer: String(aliceId), text: 'sent once' }, { headers: { 'idempotency-key': 'order-1' } });
    expect(replay.body).toEqual(sentOnce.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    // A migration refuses to run while an instance is live on the database.
    const refused = migrateStore('postgres-to-files', freshDataDir());
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('instances are running');
    expect(await clustered.stop()).toBe(0);

    const backDir = freshDataDir();
    const back = migrateStore('postgres-to-files', backDir);
    expect(back.status, back.stderr).toBe(0);
    expect(back.stdout).toContain('2 accounts copied');
    expect(fs.readdirSync(path.join(backDir, 'accounts')).sort()).toEqual(ids); // nothing half-made left beside them
    const filesAgain = await sandbox.service({ dataDir: backDir, env });
    for (const id of ids) {
      await waitForStatus(filesAgain, valid, `${id} valid from files again`, { account: id });
      expect((await filesAgain.request('GET', `/api/accounts/${id}/me`)).body.phone).toBe(phones.get(id));
    }
    expect((await filesAgain.request('GET', '/api/accounts/m-alice/status', undefined, { token: scoped.body.token })).status).toBe(200);
    expect(await aliceEvents(filesAgain)).toEqual(inPostgres);
    expect((await filesAgain.request('GET', '/api/accounts/m-alice/webhook')).body).toMatchObject({ url: receiver.url, lastDeliveredId: inPostgres.at(-1)!.id });
    expect((await filesAgain.request('POST', '/api/accounts/m-bob/messages', { peer: String(aliceId), text: 'sent once' }, { headers: { 'idempotency-key': 'order-1' } })).body).toEqual(sentOnce.body);
    // Alice's session file is the same bytes as at the start: still encrypted with the same key; so is the journal.
    const before = fs.readFileSync(path.join(filesDir, 'accounts', 'm-alice', 'session.json'));
    const after = fs.readFileSync(path.join(backDir, 'accounts', 'm-alice', 'session.json'));
    expect(after.equals(before)).toBe(true);
    expect(JSON.parse(after.toString('utf8'))).toHaveProperty('encrypted');
    const backSegments = path.join(backDir, 'accounts', 'm-alice', 'events');
    for (const name of fs.readdirSync(backSegments)) expect(fs.readFileSync(path.join(backSegments, name), 'utf8')).not.toContain('to alice');
    expect(await filesAgain.stop()).toBe(0);
    await receiver.close();
  }, 120_000);
});
