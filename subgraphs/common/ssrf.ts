import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * The guard that keeps what customers choose from reaching inside our network (SSRF): webhook
 * URLs, the repositories deployments clone, and every connection a deployment's build or app
 * makes through the sandbox's egress proxy. Without it anyone who can create an endpoint or a
 * project could make our servers call the cloud metadata service, a database's HTTP port or an
 * admin panel on the private network, and read the answer back (an attempt's excerpt, a build log).
 *
 * Two places check: the URL as written (scheme, credentials, IP literals in any form the WHATWG
 * parser accepts), and every address its name resolves to, inside the connection's own DNS
 * lookup, so the address checked is the address connected to (no second answer, no DNS
 * rebinding between a check and a connect).
 */

/** A target the guard refused; `message` is safe to show its owner (it names no address). */
export class RefusedTarget extends Error {
  readonly code = 'ERR_TARGET_REFUSED';
}

export interface GuardOptions {
  /** Development: loopback and private targets are allowed (a webhook receiver on localhost). */
  allowPrivateNetworks: boolean;
}

export const MAX_URL_LENGTH = 2048;

// IPv4 ranges that are not the public internet (IANA special-purpose registry and friends).
const privateV4 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255 broadcast
] as const) {
  privateV4.addSubnet(network, prefix, 'ipv4');
}

/** Parses an IPv6 address (no zone) into its 8 groups; null if it is not one. */
export function parseIPv6(address: string): number[] | null {
  if (isIP(address) !== 6) return null;
  let text = address.toLowerCase();
  // A trailing dotted quad (`::ffff:1.2.3.4`) stands for the last two groups.
  let tail: number[] = [];
  const quad = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const [a = 0, b = 0, c = 0, d = 0] = quad[2]!.split('.').map(Number);
    tail = [(a << 8) | b, (c << 8) | d];
    text = quad[1]!.endsWith('::') ? quad[1]! : quad[1]!.slice(0, -1);
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const gap = text.indexOf('::');
  let groups: number[];
  if (gap >= 0) {
    const left = parse(text.slice(0, gap));
    const right = [...parse(text.slice(gap + 2)), ...tail];
    groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  } else {
    groups = [...parse(text), ...tail];
  }
  return groups.length === 8 ? groups : null;
}

const v4FromGroups = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;

/**
 * Why an address may not be connected to, or null if it is a public unicast address. IPv6
 * forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that address.
 */
export function privateAddressReason(address: string): string | null {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return privateV4.check(bare, 'ipv4') ? 'a private or reserved address' : null;
  if (family !== 6) return 'not an IP address';
  const g = parseIPv6(bare);
  if (!g) return 'not an IP address';
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const embedded = (reason: string) => (privateV4.check(v4FromGroups(g6, g7), 'ipv4') ? reason : null);
  // ::/96: unspecified, loopback and IPv4-compatible; ::ffff:0:0/96: IPv4-mapped.
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0) {
    if (g5 === 0xffff) return embedded('an IPv4-mapped private address');
    if (g5 === 0) {
      if (g6 === 0 && (g7 === 0 || g7 === 1)) return 'a loopback or unspecified address';
      return embedded('an IPv4-compatible private address') ?? 'a deprecated IPv4-compatible address';
    }
    return 'a reserved address';
  }
  // 64:ff9b::/96: NAT64 to the embedded IPv4 address.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return embedded('a NAT64 address of a private address');
  }
  // 64:ff9b:1::/48: local-use NAT64, translated inside someone's network.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return 'a local NAT64 address';
  // 2002::/16: 6to4, the IPv4 address in groups 1 and 2.
  if (g0 === 0x2002) {
    return privateV4.check(v4FromGroups(g1, g2), 'ipv4') ? 'a 6to4 address of a private address' : null;
  }
  // Only global unicast (2000::/3) reaches the internet; link-local fe80::/10, unique-local
  // fc00::/7, multicast ff00::/8 and everything unassigned fall outside it.
  if ((g0 & 0xe000) !== 0x2000) return 'a private, link-local, multicast or reserved address';
  if (g0 === 0x2001 && g1 === 0x0db8) return 'a documentation address';
  // 2001::/32 Teredo tunnels, 2001:10::/28 and 2001:20::/28 ORCHID: not destinations.
  if (g0 === 0x2001 && (g1 === 0 || (g1 & 0xfff0) === 0x10 || (g1 & 0xfff0) === 0x20)) {
    return 'a reserved address';
  }
  return null;
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; message: string };

/**
 * Checks a URL as written: absolute http(s), no credentials, not too long, and, unless private
 * networks are allowed, not an IP literal of a private address. `new URL` has already turned
 * `http://2130706433/`, `http://0x7f.1/` and `http://0177.0.0.1/` into `127.0.0.1`, and IPv6
 * literals into their canonical form, so the check sees the address that would be dialled.
 */
export function checkUrl(value: string, options: GuardOptions): UrlCheck {
  if (value.length > MAX_URL_LENGTH) {
    return { ok: false, message: `Use a URL of at most ${MAX_URL_LENGTH} characters.` };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, message: 'Not a valid URL.' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, message: 'Use an http:// or https:// URL.' };
  }
  if (url.username || url.password) {
    return { ok: false, message: 'Put no credentials in the URL; verify the signature instead.' };
  }
  if (!url.hostname) return { ok: false, message: 'The URL has no host.' };
  if (!options.allowPrivateNetworks) {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      const reason = privateAddressReason(host);
      if (reason) return { ok: false, message: `The URL points to ${reason}; use a public address.` };
    }
  }
  return { ok: true, url };
}

type Resolve = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemResolve: Resolve = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/**
 * Resolves a host name and checks every address it has: one bad address refuses them all
 * (picking a good one among bad ones would still let a name point inside whenever the good
 * one fails). IP literals are checked as they are.
 */
export async function resolveChecked(
  hostname: string,
  options: GuardOptions,
  resolve: Resolve = systemResolve,
): Promise<{ address: string; family: number }[]> {
  const host = hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host);
  const addresses = literal ? [{ address: host, family: literal }] : await resolve(host);
  if (addresses.length === 0) throw new RefusedTarget(`refused: ${hostname} has no address`);
  if (!options.allowPrivateNetworks) {
    for (const { address } of addresses) {
      const reason = privateAddressReason(address);
      // The address stays out of the message: it would tell an outsider our internal DNS.
      if (reason) throw new RefusedTarget(`refused: ${hostname} resolves to ${reason}`);
    }
  }
  return addresses;
}

/**
 * A `lookup` for `net.connect` that resolves and checks in one step: the socket connects to
 * an address this function approved, and nothing else (Host and TLS SNI keep the name).
 */
export function guardedLookup(options: GuardOptions, resolve: Resolve = systemResolve): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    resolveChecked(hostname, options, resolve).then(
      (addresses) => {
        const family =
          lookupOptions.family === 'IPv4' ? 4 : lookupOptions.family === 'IPv6' ? 6 : lookupOptions.family;
        const wanted = family ? addresses.filter((a) => a.family === family) : addresses;
        if (wanted.length === 0) {
          const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
          callback(error, '', 0);
        } else if (lookupOptions.all) {
          (callback as unknown as (e: null, a: typeof wanted) => void)(null, wanted);
        } else {
          callback(null, wanted[0]!.address, wanted[0]!.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}
