/**
 * The session.json document: what it holds, how it is written and how it is read back.
 *
 * On disk (plaintext form; with encryption the same text sits inside an AES-256-GCM envelope):
 * {
 *   "version": 1,
 *   "environment": "sandbox" | "production" | "test",
 *   "primaryDc": { "id", "ipAddress", "port", "ipv6"?, "mediaOnly"?, "testMode"? },   (readable, from mtcute.dc_main)
 *   "mediaDc": { … },                                                                (readable, from mtcute.dc_media)
 *   "authKeys": { "<dcId>": "<base64 of the 256-byte permanent auth key>" },
 *   "self": { "userId", "isBot", "isPremium", "usernames" } | null,                  (readable, from mtcute.current_user)
 *   "mtcute": { "dc_main": "<base64>", "dc_media": "<base64>", "current_user": "<base64>" },
 *   "pendingLogin": { … PendingLogin },
 *   "qrLogin": { "startedAt", "passwordRequired"? },                                 (a QR login in progress)
 *   "loginMethod": "code" | "qr" | "future_auth_token",
 *   "floodWaits": { "<method>": <unix ms> },
 *   "savedAt": "<ISO>"
 * }
 * `mtcute` holds mtcute's own key-value entries byte for byte — they are what mtcute reads back. The
 * readable fields are derived from them on every write, for people and tools; on read they are used
 * only when the raw entry is missing (a hand-written file), and only for the DCs.
 */
import * as z from 'zod';
import { SessionFileError } from './errors.js';
import { schemaOnDemand } from './schema-on-demand.js';
import { decodeSelf, parseDcOption, serializeDcOption } from './mtcute-values.js';
import { decryptEnvelope, encryptDocumentText, looksEncrypted } from './session-crypto.js';
import type { LoginMethod, PendingLogin, PendingQrLogin } from './types.js';

export const SESSION_FILE_VERSION = 1;
/** No legitimate session.json comes near this; a bigger file is refused unread. */
export const SESSION_FILE_MAX_BYTES = 1024 * 1024;
/** MTProto permanent auth keys are 2048 bits. */
export const AUTH_KEY_BYTES = 256;
/**
 * mtcute stores the key as the minimal big-endian bytes of the DH result (g^ab mod p), so one key
 * exchange in 256 yields a 255-byte key (a leading zero byte dropped), one in 65,536 a 254-byte key, …
 * Those keys are valid and must round-trip byte for byte (the auth_key_id is a hash of exactly these
 * bytes); anything shorter than this is not a key (a chance of 2^-512 of being one).
 */
export const AUTH_KEY_MIN_BYTES = AUTH_KEY_BYTES - 64;

/** mtcute key-value entries that matter for staying logged in (everything else stays in memory). */
export const KV_DC_MAIN = 'dc_main';
export const KV_DC_MEDIA = 'dc_media';
export const KV_CURRENT_USER = 'current_user';
export const LOGIN_KV_KEYS: ReadonlySet<string> = new Set([KV_DC_MAIN, KV_DC_MEDIA, KV_CURRENT_USER]);

/** The in-memory document. */
export interface SessionDocument {
  environment: string;
  /** Permanent auth key per DC id. */
  authKeys: Map<number, Uint8Array>;
  /** Login-relevant mtcute KV entries (LOGIN_KV_KEYS), exactly as mtcute wrote them. */
  mtcuteKv: Map<string, Uint8Array>;
  pendingLogin?: PendingLogin;
  qrLogin?: PendingQrLogin;
  loginMethod?: LoginMethod;
  floodWaits?: Record<string, number>;
}

export function emptyDocument(environment: string): SessionDocument {
  return { environment, authKeys: new Map(), mtcuteKv: new Map() };
}

// ---------- schema ----------

const documentSchema = schemaOnDemand(() => {
  const base64 = z.base64();
  const dcOptionSchema = z.object({
    id: z.number().int().min(1).max(0x7fffffff),
    ipAddress: z.string().min(1).max(256),
    port: z.number().int().min(1).max(65535),
    ipv6: z.boolean().optional(),
    mediaOnly: z.boolean().optional(),
    testMode: z.boolean().optional(),
  });
  const pendingLoginSchema = z.object({
    phone: z.string().min(1).max(64),
    phoneCodeHash: z.string().min(1).max(1024),
    dcId: z.number().int(),
    codeType: z.string().max(128),
    codeLength: z.number().int().optional(),
    nextType: z.string().max(128).optional(),
    timeout: z.number().optional(),
    sentAt: z.string().max(64),
    passwordRequired: z.object({ hint: z.string().max(1024).optional() }).optional(),
  });
  const qrLoginSchema = z.object({
    startedAt: z.string().max(64),
    passwordRequired: z.object({ hint: z.string().max(1024).optional() }).optional(),
  });
  return z.object({
    version: z.literal(SESSION_FILE_VERSION),
    environment: z.string().min(1).max(32),
    primaryDc: dcOptionSchema.nullish(),
    mediaDc: dcOptionSchema.nullish(),
    authKeys: z.record(z.string().regex(/^[1-9][0-9]{0,9}$/), base64),
    self: z.unknown().optional(), // derived, never read back
    mtcute: z.record(z.string().max(64), base64).optional(),
    pendingLogin: pendingLoginSchema.optional(),
    qrLogin: qrLoginSchema.optional(),
    loginMethod: z.enum(['code', 'qr', 'future_auth_token']).optional(),
    floodWaits: z.record(z.string().max(256), z.number()).optional(),
    savedAt: z.string().max(64).optional(),
  });
});

type OnDiskDocument = z.infer<ReturnType<typeof documentSchema>>;
type DcOption = NonNullable<OnDiskDocument['primaryDc']>;

// ---------- write ----------

/** The document as written, without `savedAt`: equal bodies mean nothing login-relevant changed. */
export function documentBody(doc: SessionDocument): Omit<OnDiskDocument, 'savedAt'> {
  const main = doc.mtcuteKv.get(KV_DC_MAIN);
  const media = doc.mtcuteKv.get(KV_DC_MEDIA);
  // Key order = the order people read the file in.
  const body: Omit<OnDiskDocument, 'savedAt'> = {
    version: SESSION_FILE_VERSION,
    environment: doc.environment,
    ...(main ? { primaryDc: readableDc(main) } : {}),
    ...(media ? { mediaDc: readableDc(media) } : {}),
    authKeys: {},
  };
  for (const dcId of [...doc.authKeys.keys()].sort((a, b) => a - b)) {
    body.authKeys[String(dcId)] = toBase64(doc.authKeys.get(dcId)!);
  }
  const self = doc.mtcuteKv.get(KV_CURRENT_USER);
  if (self) body.self = decodeSelf(self);
  if (doc.mtcuteKv.size > 0) {
    body.mtcute = {};
    for (const key of [...doc.mtcuteKv.keys()].sort()) body.mtcute[key] = toBase64(doc.mtcuteKv.get(key)!);
  }
  if (doc.pendingLogin) body.pendingLogin = doc.pendingLogin;
  if (doc.qrLogin) body.qrLogin = doc.qrLogin;
  if (doc.loginMethod) body.loginMethod = doc.loginMethod;
  if (doc.floodWaits && Object.keys(doc.floodWaits).length > 0) body.floodWaits = doc.floodWaits;
  return body;
}

/** The bytes of session.json for `doc` (encrypted when a key is given). */
export function encodeSessionFile(
  doc: SessionDocument,
  opts: { savedAt: Date; encryptionKey?: Uint8Array },
): Buffer {
  const text = JSON.stringify({ ...documentBody(doc), savedAt: opts.savedAt.toISOString() }, null, 2) + '\n';
  return Buffer.from(opts.encryptionKey ? encryptDocumentText(text, opts.encryptionKey) : text, 'utf8');
}

// ---------- read ----------

export interface DecodedSessionFile {
  doc: SessionDocument;
  savedAt?: string;
  encrypted: boolean;
}

/**
 * Bytes of session.json → document. Throws SessionFileError: corrupt, unsupported_version,
 * environment_mismatch, decrypt_failed, encryption_key_missing.
 */
export function decodeSessionFile(
  file: string,
  bytes: Uint8Array,
  opts: { environment: string; encryptionKey?: Uint8Array },
): DecodedSessionFile {
  let value = parseJson(file, bytes);
  const encrypted = looksEncrypted(value);
  if (encrypted) {
    const text = decryptEnvelope(file, value, opts.encryptionKey);
    value = parseJson(file, Buffer.from(text, 'utf8'));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SessionFileError(file, 'corrupt', `${file} is not a JSON object`);
  }
  const version = (value as { version?: unknown }).version;
  if (typeof version === 'number' && version !== SESSION_FILE_VERSION) {
    throw new SessionFileError(
      file,
      'unsupported_version',
      `${file} has version ${version}; this build reads version ${SESSION_FILE_VERSION}`,
    );
  }
  const parsed = documentSchema().safeParse(value);
  if (!parsed.success) {
    const where = parsed.error.issues[0]?.path.join('.') || '(root)';
    throw new SessionFileError(file, 'corrupt', `${file} does not have the shape of a session document (at ${where})`);
  }
  const onDisk = parsed.data;
  if (onDisk.environment !== opts.environment) {
    throw new SessionFileError(
      file,
      'environment_mismatch',
      `${file} belongs to the ${onDisk.environment} environment but the service runs in ${opts.environment}; ` +
        'start it with the settings of that environment, or use another DATA_DIR (the file is left untouched)',
    );
  }

  const doc = emptyDocument(onDisk.environment);
  for (const [dcId, keyB64] of Object.entries(onDisk.authKeys)) {
    const key = fromBase64(keyB64);
    if (key.length < AUTH_KEY_MIN_BYTES || key.length > AUTH_KEY_BYTES) {
      throw new SessionFileError(file, 'corrupt', `${file}: the auth key of DC ${dcId} is ${key.length} bytes, not a 2048-bit key`);
    }
    doc.authKeys.set(Number(dcId), key);
  }
  for (const [key, valueB64] of Object.entries(onDisk.mtcute ?? {})) {
    if (LOGIN_KV_KEYS.has(key)) doc.mtcuteKv.set(key, fromBase64(valueB64));
  }
  const dcMain = doc.mtcuteKv.get(KV_DC_MAIN);
  if (dcMain && !parseDcOption(dcMain)) {
    throw new SessionFileError(file, 'corrupt', `${file}: mtcute.dc_main is not a DC option`);
  }
  if (!doc.mtcuteKv.has(KV_DC_MAIN) && onDisk.primaryDc) {
    doc.mtcuteKv.set(KV_DC_MAIN, serializeDcOption(onDisk.primaryDc));
  }
  if (!doc.mtcuteKv.has(KV_DC_MEDIA) && onDisk.mediaDc) {
    doc.mtcuteKv.set(KV_DC_MEDIA, serializeDcOption(onDisk.mediaDc));
  }
  if (onDisk.pendingLogin) doc.pendingLogin = onDisk.pendingLogin;
  if (onDisk.qrLogin) doc.qrLogin = onDisk.qrLogin;
  if (onDisk.loginMethod) doc.loginMethod = onDisk.loginMethod;
  if (onDisk.floodWaits) doc.floodWaits = onDisk.floodWaits;
  return { doc, savedAt: onDisk.savedAt, encrypted };
}

function parseJson(file: string, bytes: Uint8Array): unknown {
  const text = Buffer.from(bytes).toString('utf8');
  if (text.trim() === '') throw new SessionFileError(file, 'corrupt', `${file} is empty`);
  try {
    return JSON.parse(text);
  } catch {
    // Never echo the content: it may hold key material.
    throw new SessionFileError(file, 'corrupt', `${file} is not valid JSON (truncated or damaged)`);
  }
}

// ---------- readable views of mtcute's bytes ----------

function readableDc(bytes: Uint8Array): DcOption | undefined {
  const dc = parseDcOption(bytes);
  if (!dc) return undefined;
  const out: DcOption = { id: dc.id, ipAddress: dc.ipAddress, port: dc.port };
  if (dc.ipv6) out.ipv6 = true;
  if (dc.mediaOnly) out.mediaOnly = true;
  if (dc.testMode) out.testMode = true;
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}
