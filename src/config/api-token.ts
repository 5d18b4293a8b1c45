/**
 * The API token file, DATA_DIR/api_token: read it, or create it once with 32 random bytes (base64url),
 * mode 0600, atomically and without ever overwriting a token another process just wrote. It is never
 * read through a symlink nor as a FIFO (UntrustedPathError): a planted link would choose the token that
 * grants full access, or re-mode another file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readPrivateFileSync, UntrustedPathError } from '@telegram-service/durable-files';

export const API_TOKEN_FILE_NAME = 'api_token';

export interface ResolvedApiToken {
  token: string;
  source: 'env' | 'file' | 'generated';
  /** The file the token lives in (absent when it came from API_TOKEN). */
  file?: string;
  /** Things worth a warning in the log (never containing the token). */
  warnings: string[];
}

export function resolveApiToken(dataDir: string, envToken: string | undefined): ResolvedApiToken {
  if (envToken) return { token: envToken, source: 'env', warnings: [] };
  const file = path.join(dataDir, API_TOKEN_FILE_NAME);
  const warnings: string[] = [];
  const existing = readTokenFile(file, warnings);
  if (existing) return { token: existing, source: 'file', file, warnings };
  const token = createTokenFile(file, existing === '' /* replace an empty or unusable file */);
  return { token, source: 'generated', file, warnings };
}

/** A token is at most 512 characters (API_TOKEN's limit); a bigger file is not a token file. */
const MAX_TOKEN_FILE_BYTES = 4096;

/** The token in the file; '' when the file exists but holds no usable token; undefined when absent. */
function readTokenFile(file: string, warnings: string[]): string | undefined {
  const read = readTokenFileBytes(file);
  if (!read) return undefined;
  warnings.push(...read.warnings);
  const token = read.bytes.toString('utf8').trim();
  if (token.length < 16 || !/^[\x21-\x7e]+$/.test(token)) {
    warnings.push(`API token file ${file} holds no usable token; generating a new one`);
    return '';
  }
  return token;
}

function readTokenFileBytes(file: string): ReturnType<typeof readPrivateFileSync> {
  try {
    return readPrivateFileSync(file, { maxBytes: MAX_TOKEN_FILE_BYTES });
  } catch (err) {
    if (err instanceof UntrustedPathError) throw err;
    throw new Error(`cannot read the API token file ${file}: ${(err as Error).message}`);
  }
}

function createTokenFile(file: string, replace: boolean): string {
  const token = randomBytes(32).toString('base64url');
  const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = fs.openSync(temp, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, `${token}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    if (replace) {
      fs.renameSync(temp, file);
    } else {
      // link() fails if the file appeared meanwhile: then the other writer's token wins.
      try {
        fs.linkSync(temp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          const theirs = readTokenFileBytes(file)?.bytes.toString('utf8').trim();
          if (theirs) return theirs;
        }
        fs.renameSync(temp, file);
      }
    }
    syncDirectory(path.dirname(file));
    return token;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

function syncDirectory(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  }
}
