// SSRF in the requests subscription-api itself sends to webhook endpoints (ownership checks and
// test pings), after registration: DNS that turns private between the registration check and
// the request, and endpoints that redirect to internal addresses. 127.0.0.2 plays the public
// partner (the only block allowed); 127.0.0.1 and ::1 play the internal service. A tripwire stops
// any connection that would leave this machine.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostResolver } from '@herald/delivery';
import { confineToLoopback, type LoopbackTripwire } from '@herald/delivery/testing';
import { eventually, startSubscriptionApi, type TestApi } from './subscription-api.harness';

const PARTNER = '127.0.0.2';

interface Listener {
  readonly port: number;
  readonly requests: string[];
  readonly connections: () => number;
  close(): Promise<void>;
}

type Answer = { status: number; headers?: Record<string, string> };

async function listen(
  host: string,
  port: number,
  answer: (method: string, path: string) => Answer,
): Promise<Listener> {
  const requests: string[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      const { status, headers } = answer(req.method ?? '', req.url ?? '');
      res.writeHead(status, { connection: 'close', ...headers }).end();
    });
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface SubscriptionBody {
  id: string;
  status: string;
  verification: { state: string; failure: string | null };
}

describe('subscription-api: SSRF after registration', () => {
  let tripwire: LoopbackTripwire;
  let api: TestApi;
  let key: string;
  let victim: Listener;
  let victim6: Listener;
  let partner: Listener;
  // Each name answers from its list, one entry per lookup, the last one repeating.
  const answers = new Map<string, string[]>();
  const resolver: HostResolver = (hostname) => {
    const list = answers.get(hostname);
    if (!list)
      return Promise.reject(Object.assign(new Error('no such name'), { code: 'ENOTFOUND' }));
    const address = list.length > 1 ? list.shift()! : list[0]!;
    return Promise.resolve([{ address, family: address.includes(':') ? 6 : 4 }]);
  };

  beforeAll(async () => {
    tripwire = confineToLoopback();
    victim = await listen('127.0.0.1', 0, () => ({ status: 200 }));
    victim6 = await listen('::1', victim.port, () => ({ status: 200 }));
    partner = await listen(PARTNER, victim.port, (method, path): Answer => {
      if (path.startsWith('/moved'))
        return { status: 302, headers: { location: `http://127.0.0.1:${victim.port}/internal` } };
      // A CloudEvents handshake that would pass, had the check been let through.
      if (method === 'OPTIONS')
        return { status: 200, headers: { 'webhook-allowed-origin': 'herald', allow: 'POST' } };
      return { status: 204 };
    });
    api = await startSubscriptionApi({
      resolver,
      env: { HERALD_ALLOWED_NETWORKS: `${PARTNER}/32` },
    });
    key = await api.createKey('tenant-s', ['subscriptions:read', 'subscriptions:write']);
  });

  afterAll(async () => {
    await api?.close();
    await Promise.all([victim, victim6, partner].map((l) => l?.close()));
    tripwire?.restore();
  });

  function expectNothingLeaked(): void {
    expect(victim.connections()).toBe(0);
    expect(victim6.connections()).toBe(0);
    expect(tripwire.violations).toEqual([]);
  }

  async function settled(id: string): Promise<SubscriptionBody> {
    return eventually(async () => {
      const read = await api.request<SubscriptionBody>('GET', `/v1/subscriptions/${id}`, { key });
      return read.body.verification.state === 'pending' ? undefined : read.body;
    }, `the ownership check of ${id}`);
  }

  it.each([
    ['cloudevents', '127.0.0.1'],
    ['cloudevents', '::1'],
    ['cloudevents', '169.254.169.254'],
    ['websub', '::ffff:127.0.0.1'],
    ['websub', '10.0.0.5'],
  ])(
    'refuses the %s ownership check when DNS turned to %s after the registration check',
    async (verification, internal) => {
      const host = `verify-${answers.size}.partner.test`;
      answers.set(host, [PARTNER, internal]);
      const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
        key,
        body: { url: `http://${host}:${victim.port}/hook`, types: ['order.*'], verification },
      });
      expect(created.status).toBe(201);
      const checked = await settled(created.body.id);
      expect(checked).toMatchObject({ status: 'pending', verification: { state: 'failed' } });
      expect(checked.verification.failure).toContain(`resolves to ${internal}, which is`);
      expectNothingLeaked();
    },
  );

  it('does not follow an ownership check redirected to an internal address', async () => {
    answers.set('moved.partner.test', [PARTNER]);
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key,
      body: {
        url: `http://moved.partner.test:${victim.port}/moved`,
        types: ['order.*'],
        verification: 'cloudevents',
      },
    });
    const checked = await settled(created.body.id);
    expect(checked.verification.state).toBe('failed');
    expect(partner.requests.some((r) => r.startsWith('OPTIONS /moved'))).toBe(true);
    expectNothingLeaked();
  });

  it('refuses a test ping after DNS turned internal, and does not follow a redirect', async () => {
    answers.set('ping.partner.test', [PARTNER]);
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key,
      body: { url: `http://ping.partner.test:${victim.port}/ping`, types: ['order.*'] },
    });
    expect(created.status).toBe(201);
    const ok = await api.request('POST', `/v1/subscriptions/${created.body.id}/test`, { key });
    expect(ok.body).toMatchObject({ delivered: true, statusCode: 204 });

    for (const internal of ['127.0.0.1', '::1', '::ffff:7f00:1', '169.254.169.254']) {
      answers.set('ping.partner.test', [internal]);
      const refused = await api.request<{ delivered: boolean; error: string }>(
        'POST',
        `/v1/subscriptions/${created.body.id}/test`,
        { key },
      );
      expect(refused.body.delivered).toBe(false);
      expect(refused.body.error).toContain(`resolves to ${internal}, which is`);
    }

    answers.set('moved.partner.test', [PARTNER]);
    const moved = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key,
      body: { url: `http://moved.partner.test:${victim.port}/moved-ping`, types: ['order.*'] },
    });
    const redirected = await api.request('POST', `/v1/subscriptions/${moved.body.id}/test`, {
      key,
    });
    expect(redirected.body).toMatchObject({ delivered: false, statusCode: 302 });
    expectNothingLeaked();
  });
});
