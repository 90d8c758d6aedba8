// SSRF at delivery time: whatever a URL looked like when it was registered, the webhook client
// must judge the address it is about to connect to, connect only to that address, and never
// follow a redirect. Receivers live on loopback: 127.0.0.2 plays the public partner (the only
// block the policy allows), 127.0.0.1 and ::1 play the internal service an attacker aims at.
// A tripwire stops (and records) any connection that would leave this machine, so a hole in
// the policy fails the test instead of sending traffic to a private or metadata address.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { createAddressPolicy } from './address-policy';
import type { HostResolver, ResolvedAddress } from './host-resolver';
import { decide, parseRetrySchedule } from './retry-policy';
import { confineToLoopback, type LoopbackTripwire } from './testing';
import { WebhookClient, type WebhookAttemptResult } from './webhook-client';
import { checkWebhookUrl } from './webhook-url';

const PARTNER_ADDRESS = '127.0.0.2';
const partnerOnly = createAddressPolicy([`${PARTNER_ADDRESS}/32`]);
const nothingPrivate = createAddressPolicy();

interface Listener {
  readonly port: number;
  /** Requests seen, as `METHOD path`. */
  readonly requests: string[];
  connections: number;
  close(): Promise<void>;
}

type Answer = { status: number; headers?: Record<string, string> };

async function listen(
  host: string,
  port: number,
  answer: (path: string) => Answer = () => ({ status: 204 }),
): Promise<Listener> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      const { status, headers } = answer(req.url ?? '');
      // A fresh connection for every request, so every send goes through connect (and DNS) again.
      res.writeHead(status, { connection: 'close', ...headers }).end();
    });
  });
  const listener: Listener = {
    port: 0,
    requests,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => (listener.connections += 1));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return Object.assign(listener, { port: (server.address() as AddressInfo).port });
}

/** The internal service (127.0.0.1 and ::1) and the partner (127.0.0.2), all on one port. */
async function startTargets(partnerAnswer?: (path: string) => Answer) {
  for (let tries = 0; ; tries += 1) {
    const victim = await listen('127.0.0.1', 0);
    try {
      const victim6 = await listen('::1', victim.port);
      const partner = await listen(PARTNER_ADDRESS, victim.port, partnerAnswer);
      return { port: victim.port, victim, victim6, partner };
    } catch (error) {
      await victim.close();
      if (tries === 5) throw error;
    }
  }
}

type Targets = Awaited<ReturnType<typeof startTargets>>;

const family = (address: string): 4 | 6 => (address.includes(':') ? 6 : 4);

/** A DNS whose answer for every name is whatever the test last set. */
function switchableDns(first: string | string[]) {
  let current = [first].flat();
  const asked: string[] = [];
  const resolver: HostResolver = (hostname) => {
    asked.push(hostname);
    return Promise.resolve(
      current.map((address): ResolvedAddress => ({ address, family: family(address) })),
    );
  };
  return {
    resolver,
    asked,
    answer(next: string | string[]) {
      current = [next].flat();
    },
  };
}

const body = JSON.stringify({ type: 'order.created', data: { id: 1 } });

describe('SSRF at delivery time', () => {
  let targets: Targets;
  let tripwire: LoopbackTripwire;
  const clients: WebhookClient[] = [];

  function client(resolver: HostResolver, policy = partnerOnly): WebhookClient {
    const created = new WebhookClient({ policy, resolver, connectTimeoutMs: 2000 });
    clients.push(created);
    return created;
  }

  const send = (webhooks: WebhookClient, url: string) =>
    webhooks.send({ url, headers: { 'content-type': 'application/json' }, body });

  /** Nothing reached the internal service, and nothing tried to leave the machine. */
  function expectNothingLeaked(): void {
    expect(targets.victim.connections).toBe(0);
    expect(targets.victim6.connections).toBe(0);
    expect(tripwire.violations).toEqual([]);
  }

  beforeEach(async () => {
    tripwire = confineToLoopback();
    targets = await startTargets();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all([targets.victim, targets.victim6, targets.partner].map((l) => l.close()));
    tripwire.restore();
  });

  describe('a name whose DNS answer turns private after registration', () => {
    it.each([
      ['127.0.0.1', 'a loopback address'],
      ['127.8.9.10', 'a loopback address'],
      ['10.0.0.5', 'a private address'],
      ['172.16.3.4', 'a private address'],
      ['192.168.1.1', 'a private address'],
      ['169.254.169.254', 'cloud metadata service'],
      ['100.100.100.200', 'CGNAT'],
      ['0.0.0.0', '"this network"'],
      ['::1', 'a loopback address'],
      ['::', 'the unspecified address'],
      ['::ffff:127.0.0.1', 'IPv4-mapped 127.0.0.1'],
      ['::ffff:a9fe:a9fe', 'IPv4-mapped 169.254.169.254'],
      ['::127.0.0.1', 'IPv4-compatible 127.0.0.1'],
      ['64:ff9b::a9fe:a9fe', 'NAT64 169.254.169.254'],
      ['2002:7f00:1::1', '6to4 127.0.0.1'],
      ['fd00:ec2::254', 'a unique-local address'],
      ['fe80::1', 'a link-local address'],
    ])('refuses %s at connect time (%s) and sends nothing', async (privateAddress, reason) => {
      const dns = switchableDns(PARTNER_ADDRESS);
      const url = `http://hooks.partner.test:${targets.port}/hook`;
      await expect(
        checkWebhookUrl(url, { policy: partnerOnly, resolver: dns.resolver }),
      ).resolves.toBeDefined();
      const webhooks = client(dns.resolver);
      expect(await send(webhooks, url)).toMatchObject({ kind: 'response', status: 204 });

      dns.answer(privateAddress);
      const refused = await send(webhooks, url);
      expect(refused).toMatchObject({ kind: 'error', error: 'refused_address' });
      expect(refused.kind === 'error' && refused.message).toContain(
        `hooks.partner.test resolves to ${privateAddress}, which is`,
      );
      expect(refused.kind === 'error' && refused.message).toContain(reason);
      // A refusal is a failed attempt like any other: retried on the schedule, then dead-lettered.
      const schedule = parseRetrySchedule(['1s']);
      expect(decide(refused, 1, schedule).action).toBe('retry');
      expect(decide(refused, 2, schedule).action).toBe('dead-letter');

      expect(targets.partner.requests).toEqual(['POST /hook']);
      expectNothingLeaked();
    });

    it('refuses the name when the private address hides among public ones, in either family', async () => {
      const url = `http://hooks.partner.test:${targets.port}/hook`;
      for (const answers of [
        [PARTNER_ADDRESS, '127.0.0.1'],
        ['127.0.0.1', PARTNER_ADDRESS],
        [PARTNER_ADDRESS, '::1'],
        ['::ffff:127.0.0.1', PARTNER_ADDRESS],
      ]) {
        const result = await send(client(switchableDns(answers).resolver), url);
        expect(result).toMatchObject({ kind: 'error', error: 'refused_address' });
      }
      expect(targets.partner.connections).toBe(0);
      expectNothingLeaked();
    });

    it('connects to the address it checked, not to a second answer (one lookup per connection)', async () => {
      // A rebinding DNS answers public once, then private: a client that checked one answer and
      // let the socket resolve again would land on the internal service.
      let calls = 0;
      const rebinding: HostResolver = () => {
        calls += 1;
        const address = calls % 2 === 1 ? PARTNER_ADDRESS : '127.0.0.1';
        return Promise.resolve([{ address, family: 4 }]);
      };
      const webhooks = client(rebinding);
      const url = `http://rebind.partner.test:${targets.port}/flip`;
      const results: WebhookAttemptResult[] = [];
      for (let i = 0; i < 6; i += 1) results.push(await send(webhooks, url));
      expect(results.map((r) => (r.kind === 'response' ? r.status : r.error))).toEqual([
        204,
        'refused_address',
        204,
        'refused_address',
        204,
        'refused_address',
      ]);
      expect(calls).toBe(6);
      expect(targets.partner.requests).toHaveLength(3);
      expectNothingLeaked();
    });

    it('treats localhost names as loopback whatever DNS says', async () => {
      const dns = switchableDns(PARTNER_ADDRESS);
      const webhooks = client(dns.resolver);
      for (const host of ['localhost', 'LOCALHOST.', 'api.localhost', 'a.b.LocalHost']) {
        const result = await send(webhooks, `http://${host}:${targets.port}/`);
        expect(result).toMatchObject({ kind: 'error', error: 'refused_address' });
      }
      expect(dns.asked).toEqual([]);
      expectNothingLeaked();
    });
  });

  describe('redirects', () => {
    const LOCATIONS = (port: number) => [
      `http://127.0.0.1:${port}/internal`,
      `http://[::1]:${port}/internal`,
      `http://localhost:${port}/internal`,
      `http://0x7f000001:${port}/internal`,
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      `/internal`,
    ];

    it.each([301, 302, 303, 307, 308])(
      'returns a %d as it is, follows no Location, and counts it a failure',
      async (status) => {
        const locations = LOCATIONS(targets.port);
        await targets.partner.close();
        targets.partner = await listen(PARTNER_ADDRESS, targets.port, (path) => ({
          status,
          headers: { location: locations[Number(path.slice(1))] ?? '/' },
        }));
        const webhooks = client(switchableDns(PARTNER_ADDRESS).resolver);
        for (const [index, location] of locations.entries()) {
          const result = await send(webhooks, `http://hooks.partner.test:${targets.port}/${index}`);
          expect(result).toMatchObject({ kind: 'response', status, headers: { location } });
          const decision = decide(result, 1, parseRetrySchedule(['1s']));
          expect(decision).toMatchObject({ action: 'retry' });
        }
        expect(targets.partner.requests).toEqual(locations.map((_, i) => `POST /${i}`));
        expectNothingLeaked();
      },
    );
  });

  describe('IP literals in any spelling', () => {
    // Private, loopback, link-local and reserved blocks, and a few addresses inside each.
    const privateIpv4 = fc.oneof(
      fc.constant([127, 0, 0, 1]),
      fc.constant([169, 254, 169, 254]),
      fc.constant([0, 0, 0, 0]),
      fc.tuple(fc.constant(127), fc.nat(255), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(10), fc.nat(255), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(172), fc.integer({ min: 16, max: 31 }), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(192), fc.constant(168), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(169), fc.constant(254), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.constant(100), fc.integer({ min: 64, max: 127 }), fc.nat(255), fc.nat(255)),
      fc.tuple(fc.integer({ min: 224, max: 255 }), fc.nat(255), fc.nat(255), fc.nat(255)),
    );

    const hex = (n: number, upper: boolean) => {
      const text = n.toString(16);
      return upper ? `0X${text.toUpperCase()}` : `0x${text}`;
    };
    const group = (n: number) => n.toString(16);

    /** Every spelling WHATWG URL parsing (and so undici) reads as the same IPv4 address. */
    const ipv4Spellings = fc
      .tuple(privateIpv4, fc.nat(13), fc.boolean(), fc.boolean())
      .map(([[a, b, c, d], form, upper, trailingDot]) => {
        const value = ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
        const spelled = [
          `${a}.${b}.${c}.${d}`,
          String(value),
          hex(value, upper),
          `0${value.toString(8)}`,
          `${a}.${(b << 16) + (c << 8) + d}`,
          `${a}.${b}.${(c << 8) + d}`,
          `${hex(a, upper)}.${hex(b, upper)}.${hex(c, upper)}.${hex(d, upper)}`,
          `0${a.toString(8)}.0${b.toString(8)}.0${c.toString(8)}.0${d.toString(8)}`,
          `${hex(a, upper)}.${(b << 16) + (c << 8) + d}`,
          `[::ffff:${a}.${b}.${c}.${d}]`,
          `[::ffff:${group((a << 8) + b)}:${group((c << 8) + d)}]`,
          `[0:0:0:0:0:FFFF:${group((a << 8) + b).toUpperCase()}:${group((c << 8) + d)}]`,
          `[64:ff9b::${a}.${b}.${c}.${d}]`,
          `[2002:${group((a << 8) + b)}:${group((c << 8) + d)}::1]`,
        ][form]!;
        const host = trailingDot && !spelled.startsWith('[') ? `${spelled}.` : spelled;
        return { host, address: `${a}.${b}.${c}.${d}` };
      });

    /** Loopback, link-local, unique-local, multicast and reserved IPv6, some with zones. */
    const ipv6Spellings = fc.constantFrom(
      '[::1]',
      '[0:0:0:0:0:0:0:1]',
      '[0000:0000:0000:0000:0000:0000:0000:0001]',
      '[::]',
      '[::127.0.0.1]',
      '[::7f00:1]',
      '[fe80::1]',
      '[FE80::1]',
      '[fe80::1%25eth0]',
      '[fe80::1%eth0]',
      '[fc00::1]',
      '[fd12:3456:789a::1]',
      '[ff02::1]',
      '[fec0::1]',
      '[::ffff:0:7f00:1]',
      '[64:ff9b:1::1]',
      '[2001:db8::1]',
      '[2001:0:4136:e378:8000:63bf:80ff:fffe]',
    );

    const hosts = fc.oneof(
      ipv4Spellings.map((s) => s.host),
      ipv6Spellings,
      fc.constantFrom('１２７.０.０.１', '127。0。0。1', 'localhost', 'LOCALHOST.', 'x.localhost'),
    );

    it('decodes every generated IPv4 spelling to the address it stands for', () => {
      fc.assert(
        fc.property(ipv4Spellings, ({ host, address }) => {
          const hostname = new URL(`http://${host}/`).hostname;
          const expected = host.startsWith('[') ? undefined : address;
          if (expected) expect(hostname).toBe(expected);
        }),
        { seed: 9001, numRuns: 300 },
      );
    });

    it('refuses every spelling at registration and again at delivery, without connecting', async () => {
      const webhooks = client(() => Promise.reject(new Error('an IP literal needs no DNS')));
      const openClient = client(
        () => Promise.reject(new Error('an IP literal needs no DNS')),
        nothingPrivate,
      );
      await fc.assert(
        fc.asyncProperty(hosts, fc.boolean(), async (host, withPort) => {
          const url = `http://${host}${withPort ? `:${targets.port}` : ''}/hook`;
          await expect(
            checkWebhookUrl(url, { policy: nothingPrivate, resolver: () => Promise.resolve([]) }),
          ).rejects.toMatchObject({
            code: expect.stringMatching(/^delivery\.(address_refused|invalid_url)$/) as string,
          });
          // As if registered under a wider allow-list that has since been narrowed.
          for (const delivering of [webhooks, openClient]) {
            const result = await send(delivering, url);
            expect(result.kind).toBe('error');
            if (result.kind === 'error' && result.error !== 'refused_address') {
              // Only a URL that does not parse at all may fail otherwise.
              expect(() => new URL(url)).toThrow();
            }
          }
          expectNothingLeaked();
        }),
        { seed: 4242, numRuns: 250 },
      );
      expect(targets.partner.connections).toBe(0);
    });
  });
});
