/**
 * Where a webhook may point. A webhook makes the service send requests on someone's behalf, so:
 * - the URL must be http(s), without user:password, at most 2,048 characters;
 * - set with the admin token it may point anywhere (the admin runs the service);
 * - set with a token scoped to the account, every address its host resolves to must be public — loopback,
 *   private (RFC 1918, CGNAT, ULA), link-local (cloud metadata at 169.254.169.254), multicast, reserved and
 *   unspecified ranges are refused — unless the host or address is in WEBHOOK_ALLOWED_HOSTS (names, IPs,
 *   CIDRs);
 * - the check is made when the webhook is set and again on every connection (the connection goes to the
 *   address that was checked, so a DNS answer that changes in between cannot point it elsewhere);
 * - redirects are never followed (webhook-post.ts).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import net from 'node:net';
import type { WebhookSetter } from '../store/types.js';

export const MAX_WEBHOOK_URL_LENGTH = 2048;

export type WebhookTargetErrorCode = 'WEBHOOK_URL_INVALID' | 'WEBHOOK_URL_FORBIDDEN';

export class WebhookTargetError extends Error {
  constructor(
    readonly code: WebhookTargetErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookTargetError';
  }
}

/** Targets a scoped token may use although they are not public (WEBHOOK_ALLOWED_HOSTS, checked by config/allow-list.ts). */
export class WebhookAllowList {
  private readonly hosts = new Set<string>();
  private readonly ranges = new net.BlockList();

  constructor(entries: readonly string[] = []) {
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase();
      if (!entry) continue;
      const [address, bits] = entry.split('/');
      const family = net.isIP(address ?? '');
      if (family && bits !== undefined) this.ranges.addSubnet(address!, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
      else if (family) this.ranges.addAddress(address!, family === 6 ? 'ipv6' : 'ipv4');
      else this.hosts.add(entry);
    }
  }

  hasHost(host: string): boolean {
    return this.hosts.has(host.toLowerCase());
  }

  hasAddress(address: string): boolean {
    const family = net.isIP(address);
    return family !== 0 && this.ranges.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** Ranges that are not the public internet (IANA special-purpose registries). */
const NOT_PUBLIC = new net.BlockList();
for (const [address, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NOT_PUBLIC.addSubnet(address, bits, 'ipv4');
for (const [address, bits] of [
  ['::', 128], ['::1', 128], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32],
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) NOT_PUBLIC.addSubnet(address, bits, 'ipv6');

/** Whether `address` (an IP) is on the public internet; IPv4 inside IPv6 (mapped, NAT64) is judged as IPv4. */
export function isPublicAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    const embedded = embeddedIpv4(address);
    if (embedded) return isPublicAddress(embedded);
    return !NOT_PUBLIC.check(address, 'ipv6');
  }
  return !NOT_PUBLIC.check(address, 'ipv4');
}

/** The IPv4 address inside ::ffff:a.b.c.d, ::a.b.c.d or 64:ff9b::a.b.c.d (NAT64), if any. */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex) return undefined;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** The URL if it is one a webhook may have at all (http(s), no credentials, a host); else WEBHOOK_URL_INVALID. */
export function parseWebhookUrl(text: string): URL {
  if (text.length > MAX_WEBHOOK_URL_LENGTH) throw new WebhookTargetError('WEBHOOK_URL_INVALID', `url must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookTargetError('WEBHOOK_URL_INVALID', 'url is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookTargetError('WEBHOOK_URL_INVALID', 'url must start with http:// or https://');
  }
  if (url.username || url.password) throw new WebhookTargetError('WEBHOOK_URL_INVALID', 'url must not contain a user name or password');
  if (!url.hostname) throw new WebhookTargetError('WEBHOOK_URL_INVALID', 'url has no host');
  return url;
}

/** The host of a URL as a resolver or net.isIP wants it ([::1] → ::1). */
export function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

export type Resolver = (host: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

export class WebhookTargetPolicy {
  constructor(
    readonly allowList: WebhookAllowList,
    private readonly resolve: Resolver = systemResolver,
  ) {}

  /** Whether `setBy` may send to `address` reached through `host`. */
  addressAllowed(setBy: WebhookSetter, host: string, address: string): boolean {
    if (setBy === 'admin') return true;
    return isPublicAddress(address) || this.allowList.hasHost(host) || this.allowList.hasAddress(address);
  }

  /** Throws WEBHOOK_URL_FORBIDDEN (with the reason) unless every address of the URL's host may be used. */
  async check(url: URL, setBy: WebhookSetter): Promise<void> {
    if (setBy === 'admin') return;
    const host = bareHost(url);
    let addresses: string[];
    if (net.isIP(host)) addresses = [host];
    else {
      try {
        addresses = (await this.resolve(host)).map((a) => a.address);
      } catch {
        throw new WebhookTargetError('WEBHOOK_URL_INVALID', `the host ${host} cannot be resolved`);
      }
    }
    const refused = addresses.find((address) => !this.addressAllowed(setBy, host, address));
    if (refused !== undefined || addresses.length === 0) {
      throw new WebhookTargetError(
        'WEBHOOK_URL_FORBIDDEN',
        `a token scoped to the account may only point a webhook at public addresses; ${host} is ${refused ?? 'not resolvable'} ` +
          '(the admin token may set it, or the host may be listed in WEBHOOK_ALLOWED_HOSTS)',
      );
    }
  }

  /**
   * A `lookup` for the connection (net.connect's option): resolves the host and refuses a disallowed address,
   * so the address connected to is the address checked.
   */
  lookupFor(setBy: WebhookSetter, host: string): net.LookupFunction {
    return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
      this.resolve(hostname).then(
        (addresses) => {
          const allowed = addresses.filter((a) => this.addressAllowed(setBy, host, a.address));
          if (allowed.length === 0) {
            const err = Object.assign(new Error(`${hostname} resolves to an address this webhook may not use`), { code: 'WEBHOOK_URL_FORBIDDEN' });
            return callback(err);
          }
          if (options?.all) return callback(null, allowed);
          return callback(null, allowed[0]!.address, allowed[0]!.family);
        },
        (err: unknown) => callback(err),
      );
    }) as net.LookupFunction;
  }
}
