import { AddressRefusedError } from './delivery.errors';
import {
  cidrContains,
  formatIpAddress,
  ipv4,
  parseCidr,
  parseIpAddress,
  type Cidr,
  type IpAddress,
} from './ip-address';

/** Which destination addresses webhooks may reach beyond the public internet. */
export interface AddressPolicy {
  /** Blocks that are allowed even though they are private or reserved (`HERALD_ALLOWED_NETWORKS`). */
  readonly allowedNetworks: readonly Cidr[];
}

export type AddressVerdict =
  { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** A policy that allows public addresses plus the given blocks (`127.0.0.0/8`, `::1/128`, …). */
export function createAddressPolicy(
  allowedNetworks: readonly (string | Cidr)[] = [],
): AddressPolicy {
  return {
    allowedNetworks: allowedNetworks.map((network) =>
      typeof network === 'string' ? parseCidr(network) : network,
    ),
  };
}

interface RefusedRange {
  readonly cidr: Cidr;
  readonly reason: string;
}

function ranges(entries: ReadonlyArray<readonly [string, string]>): RefusedRange[] {
  return entries.map(([cidr, reason]) => ({ cidr: parseCidr(cidr), reason }));
}

// First match wins, so narrower blocks come before the blocks that contain them.
const REFUSED_IPV4 = ranges([
  ['0.0.0.0/8', 'a "this network" address'],
  ['10.0.0.0/8', 'a private address'],
  ['100.64.0.0/10', 'a shared (CGNAT) address'],
  ['127.0.0.0/8', 'a loopback address'],
  ['169.254.169.254/32', 'a link-local address (cloud metadata service)'],
  ['169.254.0.0/16', 'a link-local address'],
  ['172.16.0.0/12', 'a private address'],
  ['192.0.0.0/24', 'a reserved address (IETF protocol assignments)'],
  ['192.0.2.0/24', 'a documentation address'],
  ['192.88.99.0/24', 'a reserved address (6to4 relay anycast)'],
  ['192.168.0.0/16', 'a private address'],
  ['198.18.0.0/15', 'a benchmarking address'],
  ['198.51.100.0/24', 'a documentation address'],
  ['203.0.113.0/24', 'a documentation address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['255.255.255.255/32', 'the broadcast address'],
  ['240.0.0.0/4', 'a reserved address'],
]);

const REFUSED_IPV6 = ranges([
  ['::/128', 'the unspecified address'],
  ['::1/128', 'a loopback address'],
  ['64:ff9b:1::/48', 'a local-use NAT64 address'],
  ['100::/64', 'a discard-only address'],
  ['2001:2::/48', 'a benchmarking address'],
  ['2001:db8::/32', 'a documentation address'],
  ['3fff::/20', 'a documentation address'],
  ['fc00::/7', 'a unique-local address'],
  ['fe80::/10', 'a link-local address'],
  ['fec0::/10', 'a site-local address'],
  ['ff00::/8', 'a multicast address'],
]);

// Only 2000::/3 is handed out as global unicast; anything else left after the checks above is
// unassigned or special-purpose and has no business receiving webhooks.
const GLOBAL_UNICAST_IPV6 = parseCidr('2000::/3');

const MASK_32 = 0xffffffffn;

interface EmbeddedIpv4 {
  readonly form: string;
  readonly addresses: readonly IpAddress[];
}

const IPV4_MAPPED = parseCidr('::ffff:0:0/96');
const IPV4_TRANSLATED = parseCidr('::ffff:0:0:0/96');
const IPV4_COMPATIBLE = parseCidr('::/96');
const NAT64 = parseCidr('64:ff9b::/96');
const SIX_TO_FOUR = parseCidr('2002::/16');
const TEREDO = parseCidr('2001::/32');

/**
 * The IPv4 addresses an IPv6 address carries, for the forms that make a packet reach (or be
 * translated to) that IPv4 host; such an address is judged as the IPv4 address it embeds.
 */
export function embeddedIpv4(ip: IpAddress): EmbeddedIpv4 | undefined {
  if (ip.family !== 6) return undefined;
  const low = ipv4(ip.value);
  if (cidrContains(IPV4_MAPPED, ip)) return { form: 'IPv4-mapped', addresses: [low] };
  if (cidrContains(IPV4_TRANSLATED, ip)) return { form: 'IPv4-translated', addresses: [low] };
  // :: and ::1 are their own special addresses, not IPv4-compatible 0.0.0.0 and 0.0.0.1.
  if (cidrContains(IPV4_COMPATIBLE, ip) && ip.value > 1n)
    return { form: 'IPv4-compatible', addresses: [low] };
  if (cidrContains(NAT64, ip)) return { form: 'NAT64', addresses: [low] };
  if (cidrContains(SIX_TO_FOUR, ip)) return { form: '6to4', addresses: [ipv4(ip.value >> 80n)] };
  if (cidrContains(TEREDO, ip)) {
    // Teredo carries the relay server in clear and the client obfuscated (bits inverted).
    return { form: 'Teredo', addresses: [ipv4(ip.value >> 64n), ipv4(~ip.value & MASK_32)] };
  }
  return undefined;
}

/** Whether a webhook may connect to `address` (an IP literal) under `policy`, and if not, why. */
export function judgeAddress(address: string, policy: AddressPolicy): AddressVerdict {
  const ip = parseIpAddress(address);
  if (!ip) return { allowed: false, reason: 'not an IP address' };
  return judgeIp(ip, policy);
}

export function judgeIp(ip: IpAddress, policy: AddressPolicy): AddressVerdict {
  if (policy.allowedNetworks.some((network) => cidrContains(network, ip))) return { allowed: true };
  const embedded = embeddedIpv4(ip);
  if (embedded) {
    for (const inner of embedded.addresses) {
      const verdict = judgeIp(inner, policy);
      if (!verdict.allowed) {
        return {
          allowed: false,
          reason: `${verdict.reason} (${embedded.form} ${formatIpAddress(inner)})`,
        };
      }
    }
    return { allowed: true };
  }
  const table = ip.family === 4 ? REFUSED_IPV4 : REFUSED_IPV6;
  const refused = table.find((range) => cidrContains(range.cidr, ip));
  if (refused) return { allowed: false, reason: refused.reason };
  if (ip.family === 6 && !cidrContains(GLOBAL_UNICAST_IPV6, ip)) {
    return { allowed: false, reason: 'a reserved address (outside global unicast 2000::/3)' };
  }
  return { allowed: true };
}

/** Throws AddressRefusedError when `policy` forbids `address`. */
export function assertAddressAllowed(address: string, policy: AddressPolicy): void {
  const verdict = judgeAddress(address, policy);
  if (!verdict.allowed) throw new AddressRefusedError(address, verdict.reason);
}
