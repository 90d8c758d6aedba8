import { lookup } from 'node:dns/promises';
import { isHeraldError } from '@herald/errors';
import { judgeAddress, type AddressPolicy } from './address-policy';
import { AddressRefusedError, HostUnresolvableError } from './delivery.errors';
import { parseIpAddress } from './ip-address';

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Turns a host name into every address it currently has. Injectable so tests control DNS. */
export type HostResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/**
 * `resolver`, with the lookups of one name that overlap sharing one answer. `getaddrinfo` runs on
 * libuv's few worker threads and cannot be cancelled: without this, a subscription whose name
 * server never answers would hold one thread per connection it opens (up to its `maxInFlight`)
 * and stall every other name's lookups, and file and zlib work, behind them.
 */
export function sharingLookups(resolver: HostResolver): HostResolver {
  const pending = new Map<string, Promise<readonly ResolvedAddress[]>>();
  return (hostname) => {
    const key = hostname.toLowerCase();
    let answer = pending.get(key);
    if (answer === undefined) {
      answer = resolver(hostname).finally(() => pending.delete(key));
      pending.set(key, answer);
    }
    return answer;
  };
}

/** The system resolver (`getaddrinfo`, so /etc/hosts applies), asking for every address. */
export const systemResolver: HostResolver = sharingLookups(async (hostname) => {
  const answers = await lookup(hostname, { all: true });
  return answers.map((answer) => ({
    address: answer.address,
    family: answer.family === 6 ? 6 : 4,
  }));
});

const LOOPBACK_CANDIDATES: readonly ResolvedAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

/** `localhost` and `*.localhost` always mean loopback (RFC 6761), whatever DNS says. */
export function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * The addresses a connection to `hostname` may use: an IP literal is judged as it is; `localhost`
 * maps to the loopback addresses the allow-list covers; any other name is resolved and refused
 * when ANY of its addresses is refused (a name with one public and one private address could
 * otherwise be steered to the private one). Throws AddressRefusedError or HostUnresolvableError.
 */
export async function resolveAllowedAddresses(
  hostname: string,
  policy: AddressPolicy,
  resolver: HostResolver = systemResolver,
): Promise<readonly ResolvedAddress[]> {
  const literal = parseIpAddress(hostname);
  if (literal) {
    assertAllowed(hostname, policy);
    return [{ address: hostname, family: literal.family }];
  }
  if (isLocalhostName(hostname)) {
    const allowed = LOOPBACK_CANDIDATES.filter(
      (candidate) => judgeAddress(candidate.address, policy).allowed,
    );
    if (allowed.length === 0) throw new AddressRefusedError(hostname, 'a loopback name');
    return allowed;
  }
  const addresses = await resolveOrExplain(hostname, resolver);
  for (const { address } of addresses) assertAllowed(address, policy, hostname);
  return addresses;
}

async function resolveOrExplain(
  hostname: string,
  resolver: HostResolver,
): Promise<readonly ResolvedAddress[]> {
  let addresses: readonly ResolvedAddress[];
  try {
    addresses = await resolver(hostname);
  } catch (error) {
    if (isHeraldError(error)) throw error;
    throw new HostUnresolvableError(hostname, error);
  }
  if (addresses.length === 0) throw new HostUnresolvableError(hostname);
  return addresses;
}

function assertAllowed(address: string, policy: AddressPolicy, hostname?: string): void {
  const verdict = judgeAddress(address, policy);
  if (!verdict.allowed) throw new AddressRefusedError(address, verdict.reason, hostname);
}
