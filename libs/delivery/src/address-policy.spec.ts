import { createAddressPolicy, judgeAddress, assertAddressAllowed } from './address-policy';
import { AddressRefusedError, InvalidNetworkError } from './delivery.errors';
import { formatIpAddress, parseCidr, parseCidrList, parseIpAddress } from './ip-address';

const open = createAddressPolicy();

// [address, the words the refusal must contain, an allow-list entry that covers it]
const refused: Array<[string, string, string]> = [
  ['0.0.0.0', '"this network"', '0.0.0.0/8'],
  ['0.1.2.3', '"this network"', '0.0.0.0/8'],
  ['10.0.0.1', 'a private address', '10.0.0.0/8'],
  ['172.16.0.1', 'a private address', '172.16.0.0/12'],
  ['172.31.255.255', 'a private address', '172.16.0.0/12'],
  ['192.168.1.1', 'a private address', '192.168.0.0/16'],
  ['100.64.0.1', 'CGNAT', '100.64.0.0/10'],
  ['100.127.255.254', 'CGNAT', '100.64.0.0/10'],
  ['127.0.0.1', 'a loopback address', '127.0.0.0/8'],
  ['127.255.255.254', 'a loopback address', '127.0.0.0/8'],
  ['169.254.169.254', 'cloud metadata', '169.254.169.254/32'],
  ['169.254.1.1', 'a link-local address', '169.254.0.0/16'],
  ['192.0.0.8', 'reserved', '192.0.0.0/24'],
  ['192.0.2.10', 'a documentation address', '192.0.2.0/24'],
  ['198.18.0.1', 'a benchmarking address', '198.18.0.0/15'],
  ['198.19.255.1', 'a benchmarking address', '198.18.0.0/15'],
  ['198.51.100.7', 'a documentation address', '198.51.100.0/24'],
  ['203.0.113.9', 'a documentation address', '203.0.113.0/24'],
  ['224.0.0.1', 'a multicast address', '224.0.0.0/4'],
  ['239.255.255.250', 'a multicast address', '224.0.0.0/4'],
  ['240.0.0.1', 'a reserved address', '240.0.0.0/4'],
  ['255.255.255.255', 'the broadcast address', '255.255.255.255/32'],
  ['::1', 'a loopback address', '::1/128'],
  ['::', 'the unspecified address', '::/128'],
  ['fc00::1', 'a unique-local address', 'fc00::/7'],
  ['fd12:3456::1', 'a unique-local address', 'fd00::/8'],
  ['fe80::1', 'a link-local address', 'fe80::/10'],
  ['fe80::1%eth0', 'a link-local address', 'fe80::/10'],
  ['ff02::1', 'a multicast address', 'ff00::/8'],
  ['2001:db8::1', 'a documentation address', '2001:db8::/32'],
  ['::ffff:127.0.0.1', 'a loopback address (IPv4-mapped 127.0.0.1)', '127.0.0.0/8'],
  ['::ffff:7f00:1', 'a loopback address (IPv4-mapped 127.0.0.1)', '127.0.0.0/8'],
  ['::ffff:a00:1', 'a private address (IPv4-mapped 10.0.0.1)', '10.0.0.0/8'],
  ['::ffff:169.254.169.254', 'cloud metadata', '169.254.0.0/16'],
  ['::ffff:0:127.0.0.1', 'a loopback address (IPv4-translated 127.0.0.1)', '127.0.0.0/8'],
  ['::127.0.0.1', 'a loopback address (IPv4-compatible 127.0.0.1)', '127.0.0.0/8'],
  ['::a9fe:a9fe', 'IPv4-compatible 169.254.169.254', '169.254.169.254/32'],
  ['64:ff9b::10.0.0.1', 'a private address (NAT64 10.0.0.1)', '10.0.0.0/8'],
  ['64:ff9b::7f00:1', 'NAT64 127.0.0.1', '64:ff9b::/96'],
  ['2002:7f00:1::', 'a loopback address (6to4 127.0.0.1)', '127.0.0.0/8'],
  ['2002:c0a8:101::1', 'a private address (6to4 192.168.1.1)', '192.168.0.0/16'],
  // Teredo: server 65.54.227.120 (public), client 127.0.0.1 obfuscated as 80ff:fffe.
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'a loopback address (Teredo 127.0.0.1)', '127.0.0.0/8'],
  ['2001:0:a00:1::f7f7:f7f7', 'a private address (Teredo 10.0.0.1)', '10.0.0.0/8'],
  ['64:ff9b:1::1', 'local-use NAT64', '64:ff9b:1::/48'],
  ['100::1', 'discard-only', '100::/64'],
  ['fec0::1', 'site-local', 'fec0::/10'],
  ['4000::1', 'outside global unicast', '4000::/3'],
];

const allowed = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.216.34',
  '172.32.0.1',
  '100.128.0.1',
  '169.253.255.255',
  '2606:4700:4700::1111',
  '2a00:1450:4001:82a::200e',
  '::ffff:8.8.8.8',
  '64:ff9b::8.8.8.8',
  '2002:808:808::1',
  '2001:0:4136:e378:8000:63bf:f7f7:f7f7',
];

describe('judgeAddress', () => {
  it.each(refused)('refuses %s as %s', (address, reason) => {
    const verdict = judgeAddress(address, open);
    expect(verdict.allowed).toBe(false);
    expect(verdict.allowed ? '' : verdict.reason).toContain(reason);
  });

  it.each(refused)('allows %s (%s) when the allow-list holds %s', (address, _reason, network) => {
    expect(judgeAddress(address, createAddressPolicy([network]))).toEqual({ allowed: true });
  });

  it.each(allowed)('allows the public address %s', (address) => {
    expect(judgeAddress(address, open)).toEqual({ allowed: true });
  });

  it('refuses what is not an IP address', () => {
    expect(judgeAddress('example.com', open)).toEqual({
      allowed: false,
      reason: 'not an IP address',
    });
    expect(judgeAddress('127.1', open).allowed).toBe(false);
  });

  it('keeps refusing what the allow-list does not cover', () => {
    const policy = createAddressPolicy(['127.0.0.0/8']);
    expect(judgeAddress('10.0.0.1', policy).allowed).toBe(false);
    expect(judgeAddress('::1', policy).allowed).toBe(false);
  });

  it('throws an AddressRefusedError that names the address and the reason', () => {
    expect(() => assertAddressAllowed('10.0.0.1', open)).toThrow(
      expect.objectContaining({
        code: 'delivery.address_refused',
        message: '10.0.0.1 is a private address',
      }) as Error,
    );
    expect(() => assertAddressAllowed('10.0.0.1', open)).toThrow(AddressRefusedError);
    expect(() => assertAddressAllowed('8.8.8.8', open)).not.toThrow();
  });
});

describe('IP addresses and CIDR blocks', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:127.0.0.1', '::ffff:7f00:1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['::', '::'],
    ['fe80::1:2', 'fe80::1:2'],
  ])('parses %s and writes it as %s', (text, canonical) => {
    const ip = parseIpAddress(text);
    expect(ip && formatIpAddress(ip)).toBe(canonical);
  });

  it('parses CIDR lists and bare addresses', () => {
    expect(parseCidrList(' 127.0.0.0/8, ::1 ,,10.1.0.0/16').map((c) => c.text)).toEqual([
      '127.0.0.0/8',
      '::1/128',
      '10.1.0.0/16',
    ]);
    expect(parseCidr('0.0.0.0/0').prefixLength).toBe(0);
  });

  it.each([
    ['nonsense', 'is not an IP address or CIDR block'],
    ['10.0.0.0/33', 'invalid prefix length; expected 0-32'],
    ['::/129', 'expected 0-128'],
    ['10.0.0.0/x', 'invalid prefix length'],
    ['10.0.0.0/8/8', 'is not an IP address or CIDR block'],
    ['10.1.0.0/8', 'host bits set; did you mean 10.0.0.0/8?'],
    ['fe80::1%eth0/64', 'is not an IP address or CIDR block'],
  ])('refuses the network %s', (text, message) => {
    expect(() => parseCidr(text)).toThrow(InvalidNetworkError);
    expect(() => parseCidr(text)).toThrow(message);
  });

  it('allows everything under 0.0.0.0/0 and ::/0', () => {
    const policy = createAddressPolicy(['0.0.0.0/0', '::/0']);
    expect(judgeAddress('10.0.0.1', policy).allowed).toBe(true);
    expect(judgeAddress('fe80::1', policy).allowed).toBe(true);
  });
});
