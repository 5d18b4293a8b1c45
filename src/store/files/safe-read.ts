/**
 * Reading a private file of the data directory without trusting it: never through a symlink (O_NOFOLLOW),
 * never a FIFO or device (O_NONBLOCK + fstat), never more than a size cap, and a group/world-readable
 * mode tightened to 0600. All checks run on the opened descriptor, so a swap between check and read
 * cannot fool them.
 */
import { constants, promises as fsp } from 'node:fs';
import { PRIVATE_FILE_MODE, octal } from '@telegram-service/durable-files';
import { errnoCode } from '../errors.js';

export type SafeReadResult =
  | { kind: 'absent' }
  | { kind: 'ok'; bytes: Buffer; warnings: string[] }
  | { kind: 'refused'; reason: 'not_regular_file' | 'too_large'; detail: string }
  | { kind: 'unreadable'; code: string; detail: string };

export async function readPrivateFile(file: string, maxBytes: number): Promise<SafeReadResult> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoCode(err) ?? 'UNKNOWN';
    if (code === 'ENOENT') return { kind: 'absent' };
    // ELOOP: the final component is a symlink (O_NOFOLLOW).
    if (code === 'ELOOP') return { kind: 'refused', reason: 'not_regular_file', detail: `${file} is a symlink` };
    return { kind: 'unreadable', code, detail: `${file} cannot be opened (${code})` };
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      return { kind: 'refused', reason: 'not_regular_file', detail: `${file} is not a regular file` };
    }
    if (stat.size > maxBytes) {
      return { kind: 'refused', reason: 'too_large', detail: `${file} is ${stat.size} bytes (limit ${maxBytes})` };
    }
    const warnings: string[] = [];
    const mode = stat.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      try {
        await handle.chmod(PRIVATE_FILE_MODE);
        warnings.push(`${file} had mode ${octal(mode)}; fixed to 0600`);
      } catch (err) {
        warnings.push(`${file} has mode ${octal(mode)} and could not be fixed (${errnoCode(err)})`);
      }
    }
    // Read at most maxBytes + 1 so a file growing after fstat is still caught.
    const buf = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxBytes) {
        return { kind: 'refused', reason: 'too_large', detail: `${file} is over ${maxBytes} bytes` };
      }
    }
    return { kind: 'ok', bytes: buf.subarray(0, length), warnings };
  } catch (err) {
    const code = errnoCode(err) ?? 'UNKNOWN';
    return { kind: 'unreadable', code, detail: `${file} cannot be read (${code})` };
  } finally {
    await handle.close().catch(() => undefined);
  }
}
