/** WEBHOOK_ALLOWED_HOSTS entries: a host name, an IP address or a CIDR. */
import net from 'node:net';

/** Undefined when `entry` is a host name, an IP address or a CIDR; else what is wrong with it. */
export function allowListEntryProblem(entry: string): string | undefined {
  const [address, bits, extra] = entry.trim().split('/');
  if (extra !== undefined || !address) return `"${entry}" is not a host name, IP address or CIDR`;
  const family = net.isIP(address);
  if (bits !== undefined) {
    const max = family === 6 ? 128 : 32;
    if (!family || !/^\d{1,3}$/.test(bits) || Number(bits) > max) return `"${entry}" is not a valid CIDR`;
    return undefined;
  }
  if (family) return undefined;
  return /^[a-z0-9.-]{1,253}$/i.test(address) ? undefined : `"${entry}" is not a host name, IP address or CIDR`;
}
