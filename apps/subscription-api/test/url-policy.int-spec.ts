import { startSubscriptionApi, tableResolver, type TestApi } from './subscription-api.harness';

const resolver = tableResolver({
  'hooks.example.com': ['93.184.216.34'],
  'sneaky.example.com': ['93.184.216.34', '10.9.8.7'],
  'private.example.com': ['192.168.1.20'],
});

// Each refused target, and the allow-list entry that lets the operator use it anyway.
const REFUSED: [url: string, allowedBy: string][] = [
  ['http://127.0.0.1/hook', '127.0.0.0/8'],
  ['http://localhost/hook', '127.0.0.0/8'],
  ['http://10.0.0.1/hook', '10.0.0.0/8'],
  ['http://169.254.169.254/latest/meta-data', '169.254.0.0/16'],
  ['http://[::1]/hook', '::1/128'],
  ['http://[::ffff:127.0.0.1]/hook', '127.0.0.0/8'],
  ['http://0x7f000001/hook', '127.0.0.0/8'],
  ['http://private.example.com/hook', '192.168.0.0/16'],
  ['http://sneaky.example.com/hook', '10.0.0.0/8'],
  ['http://100.64.0.1/hook', '100.64.0.0/10'],
  ['http://224.0.0.1/hook', '224.0.0.0/4'],
];

interface ProblemBody {
  code: string;
  errors: { pointer: string; message: string }[];
}

describe('subscription-api: webhook address policy', () => {
  let strict: TestApi;
  let permissive: TestApi;
  let strictKey: string;
  let permissiveKey: string;

  beforeAll(async () => {
    strict = await startSubscriptionApi({ resolver });
    permissive = await startSubscriptionApi({
      resolver,
      env: { HERALD_ALLOWED_NETWORKS: [...new Set(REFUSED.map(([, cidr]) => cidr))].join(',') },
    });
    strictKey = await strict.createKey('t', ['subscriptions:write']);
    permissiveKey = await permissive.createKey('t', ['subscriptions:write']);
  });
  afterAll(async () => {
    await strict.close();
    await permissive.close();
  });

  it.each(REFUSED)('refuses %s with 422, and allows it when %s is allowed', async (url) => {
    const refused = await strict.request<ProblemBody>('POST', '/v1/subscriptions', {
      key: strictKey,
      body: { url, types: ['order.*'] },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.errors[0]?.pointer).toBe('/url');
    expect(refused.body.errors[0]?.message).toMatch(
      /loopback|private|link-local|shared|multicast|reserved|carrier/i,
    );

    const allowed = await permissive.request('POST', '/v1/subscriptions', {
      key: permissiveKey,
      body: { url, types: ['order.*'] },
    });
    expect(allowed.status).toBe(201);
  });

  it.each([
    ['ftp://files.example.com/drop', 'scheme must be http or https'],
    ['https://user:pw@hooks.example.com/x', 'credentials'],
    ['not a url', 'not a valid absolute URL'],
    ['http://unknown.example.org/x', 'does not resolve'],
  ])('refuses %s with 422 (%s), whatever the allow-list says', async (url, reason) => {
    for (const [api, key] of [
      [strict, strictKey],
      [permissive, permissiveKey],
    ] as const) {
      const response = await api.request<ProblemBody>('POST', '/v1/subscriptions', {
        key,
        body: { url, types: ['order.*'] },
      });
      expect(response.status).toBe(422);
      expect(response.body.errors[0]?.message).toContain(reason);
    }
  });

  it('accepts a public name and stores the normalised URL', async () => {
    const created = await strict.request<{ url: string }>('POST', '/v1/subscriptions', {
      key: strictKey,
      body: { url: 'HTTPS://Hooks.Example.com:443/a/../hook', types: ['order.*'] },
    });
    expect(created.status).toBe(201);
    expect(created.body.url).toBe('https://hooks.example.com/hook');
  });

  it('refuses plain http when HERALD_HTTPS_ONLY is set', async () => {
    const httpsOnly = await startSubscriptionApi({ resolver, env: { HERALD_HTTPS_ONLY: 'true' } });
    try {
      const key = await httpsOnly.createKey('t', ['subscriptions:write']);
      const plain = await httpsOnly.request('POST', '/v1/subscriptions', {
        key,
        body: { url: 'http://hooks.example.com/x', types: ['order.*'] },
      });
      expect(plain.status).toBe(422);
      const secure = await httpsOnly.request('POST', '/v1/subscriptions', {
        key,
        body: { url: 'https://hooks.example.com/x', types: ['order.*'] },
      });
      expect(secure.status).toBe(201);
    } finally {
      await httpsOnly.close();
    }
  });
});
