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
    // Sized by fstat (not by the cap: a thousand accounts must not each zero a megabyte), one byte more
    // so that reaching the end is seen in the same read; grown, up to the cap + 1, while a file growing
    // after fstat keeps filling it.
    let buf = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, null);
      length += bytesRead;
      if (length > maxBytes) {
        return { kind: 'refused', reason: 'too_large', detail: `${file} is over ${maxBytes} bytes` };
      }
      if (bytesRead === 0 || length < buf.length) break; // a short read of a regular file is its end
      const grown = Buffer.alloc(Math.min(buf.length * 2, maxBytes + 1));
      buf.copy(grown, 0, 0, length);
      buf = grown;
    }
    return { kind: 'ok', bytes: buf.subarray(0, length), warnings };
  } catch (err) {
    const code = errnoCode(err) ?? 'UNKNOWN';
    return { kind: 'unreadable', code, detail: `${file} cannot be read (${code})` };
  } finally {
    await handle.close().catch(() => undefined);
  }
}
