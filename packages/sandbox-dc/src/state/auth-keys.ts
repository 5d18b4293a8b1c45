/**
 * Auth keys of both DCs and the authorization each one carries (which user it is logged in as).
 *
 * Everything here is written through to an append-only journal (one fsynced JSON line per change),
 * because the protocol core expects a key to be durable the moment `add()` returns, and a login must
 * survive a crash right after the client saw it succeed. The journal is compacted on open and close.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { AuthKeyRecord, AuthKeyStore } from '../types.js';
import { appendLineDurableSync, readPrivateFileSync, writeFileAtomicSync } from '@telegram-service/durable-files';
import { decodeJson, encodeJson } from './json-codec.js';

export interface Authorization {
  userId: number;
  authorizedAt: number;
  /** Set when the session was terminated from elsewhere: requests then get 401 SESSION_REVOKED. */
  sessionRevoked?: boolean;
}

export interface AuthKeyEntry {
  record: AuthKeyRecord;
  authorization?: Authorization;
  /** Seen in use twice at once (controls): every request gets 406 AUTH_KEY_DUPLICATED, the key is dead. */
  duplicated?: boolean;
}

/** On disk the key bytes are sealed (see sealKey); `record.key` is then absent. */
type StoredRecord = Omit<AuthKeyRecord, 'key'> & { key?: Uint8Array; sealedKey?: Uint8Array };

type JournalOp =
  | { op: 'add'; record: StoredRecord; authorization?: Authorization; duplicated?: boolean }
  | { op: 'duplicated'; id: string }
  | { op: 'remove'; id: string }
  | { op: 'layer'; id: string; layer: number; client?: AuthKeyRecord['client'] }
  | { op: 'bind'; id: string; authorization: Authorization }
  | { op: 'unbind'; id: string };

const KEY_ID_RE = /^[0-9a-f]{16}$/;
/** state.json and the key journal are refused beyond this (a sandbox's state is far smaller). */
export const MAX_STATE_FILE_BYTES = 256 * 1024 * 1024;

function sameClient(a: AuthKeyRecord['client'], b: AuthKeyRecord['client']): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

export class AuthKeyRegistry {
  private readonly entries = new Map<string, AuthKeyEntry>();
  private readonly sealKey?: Buffer;
  /** Journal entries whose key could not be unsealed (e.g. a different RSA key): kept on disk untouched, unusable. */
  private readonly unrecoverable = new Map<string, JournalOp & { op: 'add' }>();

  /**
   * @param journalPath where to keep the journal; undefined = memory only. Never read or appended
   *   through a symlink (UntrustedPathError).
   * @param sealSecret when given, auth keys are stored AES-256-GCM-sealed under a key derived from it
   *   (the DC passes its RSA private key), so no state file holds an auth key in the clear.
   */
  constructor(
    private journalPath?: string,
    sealSecret?: string | Uint8Array,
    warn: (msg: string) => void = () => undefined,
  ) {
    this.sealKey = sealSecret === undefined ? undefined : createHash('sha256').update('sandbox-dc auth-key journal\0').update(sealSecret).digest();
    const journal = journalPath ? readPrivateFileSync(journalPath, { maxBytes: MAX_STATE_FILE_BYTES }) : undefined;
    if (journal) {
      journal.warnings.forEach(warn);
      this.replay(journal.bytes.toString('utf8'));
      this.compact();
    }
  }

  /** From now on memory only: the data directory is not ours any more (its lock was lost). */
  stopPersisting(): void {
    this.journalPath = undefined;
  }

  /** The AuthKeyStore the protocol core of one DC uses: it sees only that DC's keys. */
  forDc(dcId: number): AuthKeyStore {
    return {
      get: (id) => {
        const entry = this.entries.get(id);
        return entry && entry.record.dcId === dcId ? entry.record : undefined;
      },
      add: (record) => this.add({ ...record, dcId }),
      setLayer: (id, layer, client) => {
        const entry = this.entries.get(id);
        if (entry?.record.dcId === dcId) this.setLayer(id, layer, client);
      },
      remove: (id) => {
        if (this.entries.get(id)?.record.dcId === dcId) this.remove(id);
      },
    };
  }

  /** How many stored keys could not be unsealed (they stay on disk but are not served). */
  get unrecoverableCount(): number {
    return this.unrecoverable.size;
  }

  get(id: string): AuthKeyEntry | undefined {
    return this.entries.get(id);
  }

  all(): AuthKeyEntry[] {
    return [...this.entries.values()];
  }

  keysOfUser(userId: number): AuthKeyEntry[] {
    return this.all().filter((e) => e.authorization?.userId === userId);
  }

  add(record: AuthKeyRecord): void {
    if (!KEY_ID_RE.test(record.id)) throw new Error(`auth key id must be 16 lower-case hex chars`);
    const entry: AuthKeyEntry = { record: { ...record } };
    this.entries.set(record.id, entry);
    this.write({ op: 'add', record: this.toStored(entry.record) });
  }

  setLayer(id: string, layer: number, client?: AuthKeyRecord['client']): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    const nextClient = client ?? entry.record.client;
    if (entry.record.layer === layer && sameClient(entry.record.client, nextClient)) return;
    entry.record.layer = layer;
    entry.record.client = nextClient;
    this.write({ op: 'layer', id, layer, client: nextClient });
  }

  /** Logs the key in as `userId` (clears any earlier revocation). */
  bind(id: string, userId: number): Authorization {
    const entry = this.entries.get(id);
    if (!entry) throw new Error(`unknown auth key`);
    const authorization: Authorization = { userId, authorizedAt: Date.now() };
    entry.authorization = authorization;
    this.write({ op: 'bind', id, authorization });
    return authorization;
  }

  /** Logs the key out: it stays valid for the transport but requests needing a user get AUTH_KEY_UNREGISTERED. */
  unbind(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry?.authorization) return false;
    entry.authorization = undefined;
    this.write({ op: 'unbind', id });
    return true;
  }

  /** Marks the key's session as terminated from elsewhere (401 SESSION_REVOKED until it logs in again). */
  revokeSession(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry?.authorization) return false;
    const authorization = { ...entry.authorization, sessionRevoked: true };
    entry.authorization = authorization;
    this.write({ op: 'bind', id, authorization });
    return true;
  }

  /** Marks the key as duplicated (406 AUTH_KEY_DUPLICATED for every request from now on). */
  markDuplicated(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    entry.duplicated = true;
    this.write({ op: 'duplicated', id });
    return true;
  }

  /** Forgets the key entirely (the core then answers its messages with transport error -404). */
  remove(id: string): boolean {
    if (!this.entries.delete(id)) return false;
    this.write({ op: 'remove', id });
    return true;
  }

  /** Rewrites the journal as one `add` per live key. */
  compact(): void {
    if (!this.journalPath) return;
    const lines = this.all().map((e) => encodeJson({ op: 'add', record: this.toStored(e.record), authorization: e.authorization, duplicated: e.duplicated }));
    for (const op of this.unrecoverable.values()) if (!this.entries.has(op.record.id)) lines.push(encodeJson(op));
    writeFileAtomicSync(this.journalPath, lines.length ? lines.join('\n') + '\n' : '');
  }

  private toStored(record: AuthKeyRecord): StoredRecord {
    if (!this.sealKey) return record;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    cipher.setAAD(Buffer.from(record.id));
    const sealed = Buffer.concat([iv, cipher.update(record.key), cipher.final(), cipher.getAuthTag()]);
    const { key: _key, ...rest } = record;
    return { ...rest, sealedKey: new Uint8Array(sealed) };
  }

  /** The record with its key bytes, or undefined when they cannot be recovered (wrong seal key, damage). */
  private fromStored(stored: StoredRecord): AuthKeyRecord | undefined {
    const { sealedKey, key, ...rest } = stored;
    if (key instanceof Uint8Array) return { ...rest, key };
    if (!(sealedKey instanceof Uint8Array) || !this.sealKey || sealedKey.length < 12 + 16) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.sealKey, sealedKey.subarray(0, 12));
      decipher.setAAD(Buffer.from(stored.id));
      decipher.setAuthTag(sealedKey.subarray(sealedKey.length - 16));
      const plain = Buffer.concat([decipher.update(sealedKey.subarray(12, sealedKey.length - 16)), decipher.final()]);
      return { ...rest, key: new Uint8Array(plain) };
    } catch {
      return undefined;
    }
  }

  private write(op: JournalOp): void {
    if (this.journalPath) appendLineDurableSync(this.journalPath, encodeJson(op));
  }

  private replay(text: string): void {
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let op: JournalOp;
      try {
        op = decodeJson<JournalOp>(line);
      } catch {
        continue; // a torn last line after a crash: everything before it is intact
      }
      switch (op.op) {
        case 'add': {
          const record = this.fromStored(op.record);
          if (record) {
            this.entries.set(record.id, { record, authorization: op.authorization, duplicated: op.duplicated });
            this.unrecoverable.delete(record.id);
          } else {
            this.unrecoverable.set(op.record.id, op);
          }
          break;
        }
        case 'duplicated': {
          const entry = this.entries.get(op.id);
          if (entry) entry.duplicated = true;
          break;
        }
        case 'remove':
          this.entries.delete(op.id);
          this.unrecoverable.delete(op.id);
          break;
        case 'layer': {
          const entry = this.entries.get(op.id);
          if (entry) {
            entry.record.layer = op.layer;
            entry.record.client = op.client;
          }
          break;
        }
        case 'bind': {
          const entry = this.entries.get(op.id);
          if (entry) entry.authorization = op.authorization;
          break;
        }
        case 'unbind': {
          const entry = this.entries.get(op.id);
          if (entry) entry.authorization = undefined;
          break;
        }
      }
    }
  }
}
