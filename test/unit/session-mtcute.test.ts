/**
 * The strongest proof of the storage provider: a real, unmodified mtcute TelegramClient on our store
 * logs into the sandbox DC over TCP, is destroyed, and a new client from the same files is logged in
 * without a login. Also: a login interrupted between sendCode and signIn finishes after a "restart".
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NodePlatform, TelegramClient } from '@mtcute/node';
import { addPublicKey, NodeCryptoProvider } from '@mtcute/node/utils.js';
import type { SentCode } from '@mtcute/core';
import { LogManager, type DcOptions } from '@mtcute/core/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSandbox, type TestSandbox } from '@telegram-service/sandbox-dc/testing';
import { createSessionStore, type FileSessionStore } from '../../src/store/files/account-files.js';
import type { StoreLog } from '../../src/store/types.js';

const PHONE = '+9996621234';
const CODE = '22222';
const quiet: StoreLog = { info() {}, warn() {}, error() {}, debug() {} };

let root: string;
let dc: TestSandbox;

beforeAll(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'session-mtcute-'));
  dc = await startTestSandbox();
});
afterAll(async () => {
  await dc?.dispose();
  await fsp.rm(root, { recursive: true, force: true });
});

function dcOptions(): DcOptions {
  const dc2 = dc.dcs.find((d) => d.id === 2) ?? dc.dcs[0]!;
  return {
    main: { id: 2, ipAddress: dc2.host, port: dc2.port },
    media: { id: 2, ipAddress: dc2.host, port: dc2.port, mediaOnly: true },
  };
}

async function openClient(store: FileSessionStore): Promise<TelegramClient> {
  const crypto = new NodeCryptoProvider();
  await crypto.initialize();
  addPublicKey(crypto, dc.publicKeyPem);
  const defaultDcs = dcOptions();
  const logger = new LogManager('test', new NodePlatform());
  logger.level = LogManager.ERROR;
  return new TelegramClient({
    apiId: 1,
    apiHash: '00000000000000000000000000000000',
    storage: await store.createStorage({ primaryDcs: defaultDcs }),
    crypto,
    defaultDcs,
    logger,
    disableUpdates: true,
    storageOptions: { cleanup: false },
  });
}

/** sendCode answers a User only when the key is already logged in; here it never is. */
async function sendCode(client: TelegramClient): Promise<SentCode> {
  const sent = await client.sendCode({ phone: PHONE });
  if (!('phoneCodeHash' in sent)) throw new Error('sendCode returned a user: the key was already logged in');
  return sent;
}

async function openStore(dataDir: string): Promise<FileSessionStore> {
  const store = createSessionStore({ dataDir, environment: 'sandbox', log: quiet });
  await store.load();
  return store;
}

describe('mtcute TelegramClient on the file-backed storage', () => {
  it('logs in, and a new client from the same files is logged in without a login', async () => {
    const dataDir = path.join(root, 'svc-login');
    const store = await openStore(dataDir);
    const client = await openClient(store);
    const sent = await sendCode(client);
    expect(sent.type).toBeDefined();
    // The auth key that asked for the code is on disk already.
    expect(store.hasSession()).toBe(true);
    const user = await client.signIn({ phone: PHONE, phoneCodeHash: sent.phoneCodeHash, phoneCode: CODE });
    await client.destroy();
    await store.close();

    const onDisk = JSON.parse(await fsp.readFile(path.join(dataDir, 'session.json'), 'utf8')) as Record<string, unknown>;
    expect(onDisk).toMatchObject({
      version: 1,
      environment: 'sandbox',
      primaryDc: { id: 2, ipAddress: '127.0.0.1', port: dcOptions().main.port },
      self: { userId: user.id, isBot: false },
    });
    expect(Object.keys(onDisk.authKeys as object)).toContain('2');
    expect((await fsp.stat(path.join(dataDir, 'session.json'))).mode & 0o777).toBe(0o600);
    expect((await fsp.stat(dataDir)).mode & 0o777).toBe(0o700);

    // "Restart": new store, new client, same files.
    const store2 = await openStore(dataDir);
    expect(store2.hasSession()).toBe(true);
    const client2 = await openClient(store2);
    const me = await client2.getMe();
    expect(me.id).toBe(user.id);
    const writesBefore = store2.sessionWrites;
    await client2.getMe(); // activity with nothing login-relevant changed
    await client2.destroy();
    await store2.close();
    expect(store2.sessionWrites).toBe(writesBefore);
  });

  it('a login interrupted between sendCode and signIn finishes after a restart', async () => {
    const dataDir = path.join(root, 'svc-pending');
    const store = await openStore(dataDir);
    const client = await openClient(store);
    const sent = await sendCode(client);
    await store.updateMeta({
      pendingLogin: { phone: PHONE, phoneCodeHash: sent.phoneCodeHash, dcId: 2, codeType: sent.type, sentAt: new Date().toISOString() },
    });
    await client.destroy();
    await store.close();

    const store2 = await openStore(dataDir);
    const pending = store2.meta()?.pendingLogin;
    expect(pending?.phoneCodeHash).toBe(sent.phoneCodeHash);
    const client2 = await openClient(store2);
    const user = await client2.signIn({ phone: pending!.phone, phoneCodeHash: pending!.phoneCodeHash, phoneCode: CODE });
    expect(user.id).toBeGreaterThan(0);
    await store2.updateMeta({ pendingLogin: undefined });
    await client2.destroy();
    await store2.close();
  });
});
