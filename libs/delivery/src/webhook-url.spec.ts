import { createAddressPolicy } from './address-policy';
import {
  AddressRefusedError,
  HostUnresolvableError,
  InvalidWebhookUrlError,
} from './delivery.errors';
import type { HostResolver } from './host-resolver';
import { checkWebhookUrl, parseWebhookUrl } from './webhook-url';

// A fake DNS: names map to fixed answers; anything else fails like getaddrinfo does.
function fakeDns(table: Record<string, string[]>): HostResolver {
  return (hostname) => {
    const answers = table[hostname];
    if (!answers) {
      const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
        code: 'ENOTFOUND',
      });
      return Promise.reject(error);
    }
    return Promise.resolve(
      answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  };
}

const resolver = fakeDns({
  'partner.example': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  'internal.example': ['10.0.0.7'],
  'split.example': ['93.184.216.34', '192.168.0.10'],
  'empty.example': [],
});
const open = { policy: createAddressPolicy(), resolver };

// [url, what makes it refused, the allow-list that lets it through]
const refusedUrls: Array<[string, string, string[]]> = [
  ['http://127.0.0.1', '127.0.0.1 is a loopback address', ['127.0.0.0/8']],
  ['http://localhost', 'localhost is a loopback name', ['127.0.0.0/8']],
  ['http://LOCALHOST./hook', 'localhost. is a loopback name', ['::1/128']],
  ['http://api.localhost', 'api.localhost is a loopback name', ['127.0.0.0/8']],
  ['http://10.0.0.1', '10.0.0.1 is a private address', ['10.0.0.0/8']],
  [
    'http://169.254.169.254/latest/meta-data',
    '169.254.169.254 is a link-local address',
    ['169.254.169.254/32'],
  ],
  ['http://[::1]:8080', '::1 is a loopback address', ['::1/128']],
  [
    'http://[::ffff:127.0.0.1]',
    '::ffff:7f00:1 is a loopback address (IPv4-mapped 127.0.0.1)',
    ['127.0.0.0/8'],
  ],
  ['http://0x7f000001', '127.0.0.1 is a loopback address', ['127.0.0.0/8']],
  ['http://2130706433', '127.0.0.1 is a loopback address', ['127.0.0.0/8']],
  ['http://127.1', '127.0.0.1 is a loopback address', ['127.0.0.0/8']],
  ['http://0177.0.0.1', '127.0.0.1 is a loopback address', ['127.0.0.0/8']],
  ['https://[fd00::1]', 'fd00::1 is a unique-local address', ['fd00::/8']],
  [
    'https://internal.example/hook',
    'internal.example resolves to 10.0.0.7, which is a private address',
    ['10.0.0.0/8'],
  ],
  [
    'https://split.example',
    'split.example resolves to 192.168.0.10, which is a private address',
    ['192.168.0.0/16'],
  ],
];

describe('checkWebhookUrl', () => {
  it.each(refusedUrls)('refuses %s (%s)', async (url, message) => {
    const check = checkWebhookUrl(url, open);
    await expect(check).rejects.toThrow(AddressRefusedError);
    await expect(checkWebhookUrl(url, open)).rejects.toThrow(message);
  });

  it.each(refusedUrls)(
    'allows %s when the allow-list covers it',
    async (url, _message, networks) => {
      const checked = await checkWebhookUrl(url, {
        policy: createAddressPolicy(networks),
        resolver,
      });
      expect(checked.addresses.length).toBeGreaterThan(0);
    },
  );

  it('normalises the URL and returns every resolved address', async () => {
    const checked = await checkWebhookUrl('https://Partner.Example:8443/hooks?x=1', {
      ...open,
      resolver: (name) => resolver(name.toLowerCase()),
    });
    expect(checked.url.href).toBe('https://partner.example:8443/hooks?x=1');
    expect(checked.hostname).toBe('partner.example');
    expect(checked.addresses.map((a) => a.address)).toEqual([
      '93.184.216.34',
      '2606:2800:220:1:248:1893:25c8:1946',
    ]);
  });

  it('maps localhost to the loopback addresses the allow-list covers, without DNS', async () => {
    const noDns: HostResolver = () => Promise.reject(new Error('must not resolve localhost'));
    const checked = await checkWebhookUrl('http://localhost:3000', {
      policy: createAddressPolicy(['127.0.0.0/8']),
      resolver: noDns,
    });
    expect(checked.addresses).toEqual([{ address: '127.0.0.1', family: 4 }]);
  });

  it('accepts a public IP literal without asking DNS', async () => {
    const checked = await checkWebhookUrl('http://[2606:4700:4700::1111]/x', {
      policy: createAddressPolicy(),
      resolver: () => Promise.reject(new Error('unused')),
    });
    expect(checked.addresses).toEqual([{ address: '2606:4700:4700::1111', family: 6 }]);
  });

  it.each([
    ['ftp://example.com', 'the URL scheme must be http or https, not ftp'],
    ['file:///etc/passwd', 'not file'],
    ['javascript:alert(1)', 'not javascript'],
    ['not a url', 'is not a valid absolute URL'],
    ['/relative/path', 'is not a valid absolute URL'],
    ['https://user:secret@partner.example/', 'must not contain credentials'],
    ['https://user@partner.example/', 'must not contain credentials'],
    [`https://partner.example/${'a'.repeat(2100)}`, 'longer than 2048'],
  ])('refuses the malformed URL %s', async (url, message) => {
    await expect(checkWebhookUrl(url, open)).rejects.toThrow(InvalidWebhookUrlError);
    await expect(checkWebhookUrl(url, open)).rejects.toThrow(message);
  });

  it('refuses http when only https is allowed', async () => {
    await expect(
      checkWebhookUrl('http://partner.example', { ...open, httpsOnly: true }),
    ).rejects.toThrow('must be https on this server');
    expect(parseWebhookUrl('https://partner.example', { httpsOnly: true }).protocol).toBe('https:');
  });

  it('reports names that do not resolve as retryable', async () => {
    const error: unknown = await checkWebhookUrl('https://nowhere.example', open).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HostUnresolvableError);
    expect(error).toMatchObject({
      code: 'delivery.host_unresolvable',
      retryable: true,
      message: 'nowhere.example does not resolve to any address (ENOTFOUND)',
    });
    await expect(checkWebhookUrl('https://empty.example', open)).rejects.toThrow(
      HostUnresolvableError,
    );
  });
});
