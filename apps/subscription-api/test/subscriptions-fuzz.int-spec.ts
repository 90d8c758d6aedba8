// Property tests of the subscription API under hostile input: subscription payloads (valid ones
// with fields replaced, dropped or added: wrong types, huge strings, prototype keys, bad URLs,
// globs and filters), PATCHes, TMF688 hub registrations, replays and list queries. Every answer
// must be a 2xx or a 4xx problem, never a 5xx; Object.prototype must stay clean; and a valid
// subscription can still be created afterwards. Also: every spelling of an internal address is
// refused at registration with 422.
import fc from 'fast-check';
import { PUBLIC_RESOLVER, startSubscriptionApi, type TestApi } from './subscription-api.harness';

jest.setTimeout(120_000);

const VALID_WEBHOOK = {
  kind: 'webhook',
  url: 'https://hooks.example.com/herald',
  types: ['order.*'],
  filter: { 'data.total': { $gt: 100 } },
  format: 'cloudevents',
  ordering: 'key',
  from: 'latest',
  maxInFlight: 16,
  maxPerSecond: null,
  retry: { schedule: ['5s', '5m'] },
  headers: { 'x-team': 'payments' },
  auth: { type: 'bearer', token: 'endpoint-token' },
  verification: 'none',
  description: 'fuzz',
  metadata: { team: 'payments' },
};

const FIELDS = Object.keys(VALID_WEBHOOK);

/** Values that break one rule or another, plus arbitrary JSON. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom<unknown>(
    null,
    '',
    'x'.repeat(70_000),
    -1,
    0,
    1e308,
    2 ** 53 + 1,
    [],
    {},
    ['order.*', 'order.[', '**.**.**', '', 'a'.repeat(300)],
    ['*'.repeat(200)],
    Array.from({ length: 60 }, (_, i) => `order.t${i}`),
    { $where: 'sleep(1)' },
    { 'data.x': { $regex: '(?=a)' } },
    { 'data.x': { $regex: '^(a|a)*$' } },
    { 'data.x': { $in: Array.from({ length: 200 }, (_, i) => i) } },
    { type: 'bearer' },
    { type: 'basic', username: 'u', password: 'p', extra: 1 },
    { type: 'digest' },
    { schedule: [] },
    { schedule: ['0s'] },
    { schedule: ['8d'] },
    { schedule: ['5 s', '1e3ms', '-1s', 'PT5S'] },
    { 'content-length': '0' },
    { 'x-bad header': 'v' },
    { 'x-ok': 'line\r\nbreak' },
    { authorization: 'Bearer stolen' },
    'http://127.0.0.1/hook',
    'http://[::1]/hook',
    'javascript:alert(1)',
    'https://hooks.example.com/\u0000',
    '2025-02-30T00:00:00Z',
    'yesterday',
    'earliest',
    JSON.parse('{"__proto__": {"polluted": true}}') as unknown,
    JSON.parse('{"constructor": {"prototype": {"polluted": true}}}') as unknown,
  ),
  fc.string({ unit: 'binary', maxLength: 30 }),
);

const fieldName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...FIELDS) },
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'tenant', 'id', 'secret', 'status'),
  fc.string({ maxLength: 10 }),
);

type Mutation = { kind: 'set'; field: string; value: unknown } | { kind: 'drop'; field: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      field: fieldName,
      value: hostileValue,
    }),
  },
  fc.record({ kind: fc.constant('drop' as const), field: fc.constantFrom(...FIELDS) }),
);

/** A valid body with mutations applied, as JSON text (so `__proto__` stays an ordinary key). */
function mutatedJson(base: Record<string, unknown>, mutations: readonly Mutation[]): string {
  const body: Record<string, unknown> = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  for (const m of mutations) {
    if (m.kind === 'drop') delete body[m.field];
    else
      Object.defineProperty(body, m.field, {
        value: m.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return JSON.stringify(body);
}

const payload = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.array(mutation, { maxLength: 3 }).map((ms) => mutatedJson(VALID_WEBHOOK, ms)),
  },
  fc
    .array(mutation, { maxLength: 2 })
    .map((ms) => mutatedJson({ kind: 'stream', types: ['order.*'] }, ms)),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '',
    '{',
    'null',
    '[]',
    `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
    `{"filter":${'{"$and":['.repeat(5000)}{}${']}'.repeat(5000)}}`,
  ),
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json',
  'application/json',
  'application/merge-patch+json',
  'text/plain',
  'application/json; charset=latin1',
);

interface Problem {
  status: number;
  title: string;
  type: string;
}

// Every spelling of an internal address that WHATWG URL parsing accepts or refuses.
const INTERNAL_URLS = [
  'http://[::1]/',
  'http://[0:0:0:0:0:0:0:1]/',
  'http://[::ffff:7f00:1]/',
  'http://[::ffff:127.0.0.1]/',
  'http://[::FFFF:7F00:1]/',
  'http://[0:0:0:0:0:ffff:a9fe:a9fe]/latest/meta-data',
  'http://[::127.0.0.1]/',
  'http://[64:ff9b::7f00:1]/',
  'http://[2002:7f00:1::]/',
  'http://[fe80::1]/',
  'http://[fe80::1%25eth0]/',
  'http://[fd00::1]/',
  'http://0x7f.1/',
  'http://0X7F.0.0.1/',
  'http://0x7f000001/',
  'http://2130706433/',
  'http://017700000001/',
  'http://0177.0.0.1/',
  'http://127.1/',
  'http://127.0.1/',
  'http://127.0.0.1./',
  'http://127.000.000.001/',
  'http://１２７.０.０.１/',
  'http://localhost/',
  'http://LOCALHOST./',
  'http://hooks.localhost/',
  'http://0.0.0.0/',
  'http://0/',
  'http://169.254.169.254/latest/meta-data/',
  'http://2852039166/',
  'http://0xa9fea9fe/',
  'http://10.1/',
  'http://192.168.1.1./',
  'http://100.64.0.1/',
  'http://internal.example.com/',
  'HTTP://[::1]:8080/x',
];

describe('subscription-api under hostile input', () => {
  let api: TestApi;
  let key: string;

  beforeAll(async () => {
    api = await startSubscriptionApi({ resolver: PUBLIC_RESOLVER });
    key = await api.createKey('fuzz', ['subscriptions:read', 'subscriptions:write']);
  });
  afterAll(() => api?.close());

  function expectProblemOrSuccess(response: { status: number; headers: Headers; body: unknown }) {
    expect(response.status).toBeLessThan(500);
    if (response.status < 400) return;
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: response.status, title: expect.any(String) });
  }

  async function createValid(): Promise<string> {
    const created = await api.request<{ id: string }>('POST', '/v1/subscriptions', {
      key,
      body: VALID_WEBHOOK,
    });
    expect(created.status).toBe(201);
    return created.body.id;
  }

  it('answers any create payload with 201 or a 4xx problem', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(payload, contentType, async (raw, type) => {
        const response = await api.request<Problem>('POST', '/v1/subscriptions', {
          key,
          raw,
          contentType: type,
        });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expectProblemOrSuccess(response);
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      }),
      { seed: 0x5b5c, numRuns: 500 },
    );
    expect(statuses.get(201) ?? 0).toBeGreaterThan(20);
    expect([...statuses].filter(([s]) => s >= 400).length).toBeGreaterThan(1);
    await createValid();
  });

  it('answers any PATCH with 200 or a 4xx problem, and the subscription stays readable', async () => {
    const id = await createValid();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc
            .array(mutation, { minLength: 1, maxLength: 2 })
            .map((ms) => mutatedJson({ description: 'patched' }, ms)),
          payload,
        ),
        async (raw) => {
          const response = await api.request('PATCH', `/v1/subscriptions/${id}`, {
            key,
            raw,
            contentType: 'application/json',
          });
          expectProblemOrSuccess(response);
        },
      ),
      { seed: 0x9a7c, numRuns: 300 },
    );
    const after = await api.request<{ id: string; url: string }>('GET', `/v1/subscriptions/${id}`, {
      key,
    });
    expect(after.status).toBe(200);
    expect(after.body.id).toBe(id);
  });

  it('answers any TMF688 hub registration, replay request and list query without a 5xx', async () => {
    const id = await createValid();
    const queryValue = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom(
        '',
        '-1',
        '0',
        '1e9',
        'NaN',
        '99999999999999999999-99999999999999999999',
        '18446744073709551616-0',
        '18446744073709551615-18446744073709551615',
        '0-0',
        'sub_',
        'dl_zzzzzzzzzzzzzzzzzzzzzzzzzz',
        'failed',
        'succeeded',
        '__proto__',
        'x'.repeat(5000),
      ),
    );
    const call = fc.oneof(
      fc.record({ callback: hostileValue, query: hostileValue }).map((body) => ({
        method: 'POST',
        path: '/tmf-api/event/v4/hub',
        raw: JSON.stringify(body),
      })),
      fc.record({ from: hostileValue, to: hostileValue }).map((body) => ({
        method: 'POST',
        path: `/v1/subscriptions/${id}/replay`,
        raw: JSON.stringify(body),
      })),
      fc.record({ graceSeconds: hostileValue }).map((body) => ({
        method: 'POST',
        path: `/v1/subscriptions/${id}/secret/rotate`,
        raw: JSON.stringify(body),
      })),
      fc.record({ ids: hostileValue }).map((body) => ({
        method: 'POST',
        path: `/v1/subscriptions/${id}/dead-letters/redrive`,
        raw: JSON.stringify(body),
      })),
      fc
        .tuple(
          fc.constantFrom(
            '/v1/subscriptions',
            `/v1/subscriptions/${id}/deliveries`,
            `/v1/subscriptions/${id}/dead-letters`,
          ),
          fc.dictionary(fc.constantFrom('cursor', 'limit', 'status', 'x'), queryValue, {
            maxKeys: 3,
          }),
        )
        .map(([path, query]) => ({
          method: 'GET',
          path: `${path}?${new URLSearchParams(query).toString()}`,
          raw: undefined,
        })),
      fc.tuple(fc.constantFrom('GET', 'DELETE', 'PATCH'), queryValue).map(([method, other]) => ({
        method,
        path: `/v1/subscriptions/${encodeURIComponent(other)}`,
        raw: method === 'PATCH' ? '{}' : undefined,
      })),
    );
    await fc.assert(
      fc.asyncProperty(call, async ({ method, path, raw }) => {
        const response = await api.request(method, path, {
          key,
          ...(raw === undefined ? {} : { raw, contentType: 'application/json' }),
        });
        expectProblemOrSuccess(response);
      }),
      { seed: 0x7f688, numRuns: 400 },
    );
    await createValid();
  });

  it('refuses a filter nested thousands deep with a 400 at /filter, on create and on PATCH', async () => {
    const deep = `${'{"$and":['.repeat(5000)}{}${']}'.repeat(5000)}`;
    const id = await createValid();
    const created = await api.request<Problem & { errors: { pointer: string }[] }>(
      'POST',
      '/v1/subscriptions',
      {
        key,
        raw: `{"url":"https://hooks.example.com/x","types":["order.*"],"filter":${deep}}`,
        contentType: 'application/json',
      },
    );
    const patched = await api.request<Problem & { errors: { pointer: string }[] }>(
      'PATCH',
      `/v1/subscriptions/${id}`,
      { key, raw: `{"filter":${deep}}`, contentType: 'application/json' },
    );
    for (const response of [created, patched]) {
      expect(response.status).toBe(400);
      expect(response.body.errors[0]).toEqual({
        pointer: '/filter',
        message: 'nests deeper than 8 levels',
      });
    }
  });

  it.each(INTERNAL_URLS)('refuses %s at registration with a 422 problem', async (url) => {
    const response = await api.request<Problem & { errors: { pointer: string }[] }>(
      'POST',
      '/v1/subscriptions',
      { key, body: { ...VALID_WEBHOOK, url } },
    );
    expect(response.status).toBe(422);
    expect(response.body.errors[0]?.pointer).toBe('/url');
  });
});
