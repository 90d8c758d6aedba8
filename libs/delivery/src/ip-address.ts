import { isIPv4, isIPv6 } from 'node:net';
import { InvalidNetworkError } from './delivery.errors';

/** An IP address as a number: 32 bits for IPv4, 128 for IPv6, so ranges compare with shifts. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

/** A block of addresses (`10.0.0.0/8`, `fc00::/7`); `text` is its canonical spelling. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefixLength: number;
  readonly text: string;
}

const BITS = { 4: 32, 6: 128 } as const;
const IPV4_MASK = 0xffffffffn;

/**
 * Parses a textual IPv4 or IPv6 address (an IPv6 zone such as `%eth0` is ignored: it scopes a
 * link-local address, which the policy judges by the address alone). Undefined when not an IP.
 */
export function parseIpAddress(text: string): IpAddress | undefined {
  if (isIPv4(text)) return { family: 4, value: parseIpv4(text) };
  const withoutZone = text.split('%', 1)[0] ?? '';
  if (isIPv6(withoutZone)) return { family: 6, value: parseIpv6(withoutZone) };
  return undefined;
}

function parseIpv4(text: string): bigint {
  return text.split('.').reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n);
}

function parseIpv6(text: string): bigint {
  const [head = '', tail] = text.split('::');
  const groups = (part: string | undefined): number[] => {
    if (!part) return [];
    return part.split(':').flatMap((group) => {
      if (!group.includes('.')) return [parseInt(group, 16)];
      const v4 = Number(parseIpv4(group));
      return [v4 >>> 16, v4 & 0xffff];
    });
  };
  const left = groups(head);
  const right = groups(tail);
  const zeros = tail === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right].reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

export function ipv4(value: bigint): IpAddress {
  return { family: 4, value: value & IPV4_MASK };
}

/** Dotted-quad or compressed-hex text of an address (RFC 5952 style for IPv6). */
export function formatIpAddress(ip: IpAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((ip.value >> shift) & 0xffn)).join('.');
  }
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) =>
    Number((ip.value >> shift) & 0xffffn),
  );
  const run = longestZeroRun(groups);
  const hex = (list: number[]) => list.map((group) => group.toString(16)).join(':');
  if (run.length < 2) return hex(groups);
  return `${hex(groups.slice(0, run.start))}::${hex(groups.slice(run.start + run.length))}`;
}

function longestZeroRun(groups: number[]): { start: number; length: number } {
  let best = { start: 0, length: 0 };
  let start = -1;
  groups.forEach((group, index) => {
    if (group !== 0) {
      start = -1;
      return;
    }
    if (start < 0) start = index;
    const length = index - start + 1;
    if (length > best.length) best = { start, length };
  });
  return best;
}

/**
 * Parses `address/prefix`, or a bare address meaning that single address. Host bits must be zero
 * (`10.1.0.0/8` is refused rather than silently widened, since the operator probably meant
 * something narrower).
 */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const [addressText = '', prefixText, extra] = trimmed.split('/');
  const ip = addressText.includes('%') ? undefined : parseIpAddress(addressText);
  if (!ip || extra !== undefined) {
    throw new InvalidNetworkError(
      `"${trimmed}" is not an IP address or CIDR block (like 10.0.0.0/8 or fd00::/8)`,
    );
  }
  const bits = BITS[ip.family];
  const prefixLength = prefixText === undefined ? bits : Number(prefixText);
  if (prefixText !== undefined && (!/^\d{1,3}$/.test(prefixText) || prefixLength > bits)) {
    throw new InvalidNetworkError(`"${trimmed}" has an invalid prefix length; expected 0-${bits}`);
  }
  const hostBits = BigInt(bits - prefixLength);
  const network = (ip.value >> hostBits) << hostBits;
  if (network !== ip.value) {
    const suggestion = `${formatIpAddress({ family: ip.family, value: network })}/${prefixLength}`;
    throw new InvalidNetworkError(`"${trimmed}" has host bits set; did you mean ${suggestion}?`);
  }
  return {
    family: ip.family,
    network,
    prefixLength,
    text: `${formatIpAddress(ip)}/${prefixLength}`,
  };
}

/** Parses a comma-separated list of CIDR blocks, ignoring blanks (`HERALD_ALLOWED_NETWORKS`). */
export function parseCidrList(text: string): Cidr[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map(parseCidr);
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family !== ip.family) return false;
  const hostBits = BigInt(BITS[cidr.family] - cidr.prefixLength);
  return ip.value >> hostBits === cidr.network >> hostBits;
}
