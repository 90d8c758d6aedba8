import { createHash } from 'node:crypto';
import { encodeCursor, topicPartitionKey } from '@herald/kafka';
import {
  DeadLetterRepository,
  DeliveryLogRepository,
  SubscriptionStatsRepository,
} from '@herald/store';
import { newDeadLetterRecord } from '@herald/store/testing';
import { PUBLIC_RESOLVER, startSubscriptionApi, type TestApi } from './subscription-api.harness';

interface SubscriptionBody {
  id: string;
  tenant: string;
  status: string;
  version: number;
  secret?: string | null;
  types: string[];
  url: string | null;
  auth: { type: string } | null;
  description: string | null;
  [field: string]: unknown;
}

interface ProblemBody {
  status: number;
  code: string;
  detail: string;
  errors?: { pointer: string; message: string }[];
}

/** A stream cursor as fanout hands them out: `offset` for `partition` of `topic`. */
function streamCursor(topic: string, partition: number, offset: number): string {
  return encodeCursor(new Map([[topicPartitionKey(topic, partition), BigInt(offset)]]));
}

/** `cursor` with a byte added inside its checksummed part, checksum made good again. */
function withTrailingByte(cursor: string): string {
  const raw = Buffer.from(cursor, 'base64url');
  const body = Buffer.concat([raw.subarray(0, raw.length - 4), Buffer.from([0])]);
  const checksum = createHash('sha256').update(body).digest().subarray(0, 4);
  return Buffer.concat([body, checksum]).toString('base64url');
}

const webhook = (overrides: Record<string, unknown> = {}) => ({
  kind: 'webhook',
  url: 'https://hooks.example.com/herald',
  types: ['order.*'],
  ...overrides,
});

describe('subscription-api: subscriptions over HTTP', () => {
  let api: TestApi;
  let tenantA: string;
  let tenantB: string;
  let readOnlyA: string;
  let orderOnlyA: string;

  beforeAll(async () => {
    api = await startSubscriptionApi({ resolver: PUBLIC_RESOLVER });
    tenantA = await api.createKey('tenant-a', ['subscriptions:read', 'subscriptions:write']);
    tenantB = await api.createKey('tenant-b', ['subscriptions:read', 'subscriptions:write']);
    readOnlyA = await api.createKey('tenant-a', ['subscriptions:read']);
    orderOnlyA = await api.createKey('tenant-a', [
      'subscriptions:read',
      'subscriptions:write:order.*',
    ]);
  });
  afterAll(() => api.close());

  it('creates a webhook with defaults, shows the secret once, and never again', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook({
        filter: { 'data.total': { $gt: 100 } },
        auth: { type: 'bearer', token: 'endpoint-token-123' },
        headers: { 'x-team': 'payments' },
        description: 'orders over 100',
        metadata: { owner: 'team-a' },
      }),
    });
    expect(created.status).toBe(201);
    const { body } = created;
    expect(created.headers.get('location')).toBe(`/v1/subscriptions/${body.id}`);
    expect(body).toMatchObject({
      tenant: 'tenant-a',
      kind: 'webhook',
      url: 'https://hooks.example.com/herald',
      format: 'cloudevents',
      ordering: 'key',
      from: 'latest',
      maxInFlight: 16,
      maxPerSecond: null,
      retry: { schedule: ['5s', '5m', '30m', '2h', '5h', '10h', '10h'] },
      status: 'active',
      auth: { type: 'bearer' },
      version: 1,
    });
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const secret = body.secret!;

    const seen = [
      await api.request('GET', `/v1/subscriptions/${body.id}`, { key: tenantA }),
      await api.request('GET', '/v1/subscriptions', { key: tenantA }),
      await api.request('PATCH', `/v1/subscriptions/${body.id}`, {
        key: tenantA,
        body: { description: 'changed' },
      }),
      await api.request('POST', `/v1/subscriptions/${body.id}/pause`, { key: tenantA }),
    ];
    for (const response of seen) {
      expect(response.status).toBe(200);
      expect(response.text).not.toContain(secret);
      expect(response.text).not.toContain('endpoint-token-123');
      expect(response.text).not.toContain('"secret"');
    }
    const stored = JSON.stringify(
      await api.store.redis.client.hgetall(api.store.keys.subscription(body.id)),
    );
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain('endpoint-token-123');
  });

  it('creates a stream subscription without URL or secret', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: { kind: 'stream', types: ['kitchen.**'], from: 'earliest' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      kind: 'stream',
      url: null,
      secret: null,
      status: 'active',
    });
    const refused = await api.request<ProblemBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: { kind: 'stream', types: ['kitchen.**'], url: 'https://hooks.example.com/x' },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ pointer: '/url', message: 'applies to webhooks only' }]);
  });

  it('pages through the tenant’s subscriptions with a cursor', async () => {
    const key = await api.createKey('tenant-paging', ['subscriptions:read', 'subscriptions:write']);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
        key,
        body: webhook({ description: `n${i}` }),
      });
      ids.push(created.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const page = await api.request<{ items: SubscriptionBody[]; nextCursor: string | null }>(
        'GET',
        `/v1/subscriptions${query}`,
        { key },
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((s) => s.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(ids);
    for (const limit of ['0', '0x10', '1e1', '', '%20', '101'])
      expect([
        limit,
        (await api.request<ProblemBody>('GET', `/v1/subscriptions?limit=${limit}`, { key })).status,
      ]).toEqual([limit, 400]);
    expect((await api.request('GET', '/v1/subscriptions?cursor=nope', { key })).status).toBe(400);
  });

  it('keeps tenants apart: another tenant’s subscription is always 404', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook(),
    });
    const id = created.body.id;
    const list = await api.request<{ items: SubscriptionBody[] }>('GET', '/v1/subscriptions', {
      key: tenantB,
    });
    expect(list.body.items.map((s) => s.id)).not.toContain(id);
    const attempts: [string, string, unknown?][] = [
      ['GET', `/v1/subscriptions/${id}`],
      ['PATCH', `/v1/subscriptions/${id}`, { description: 'mine now' }],
      ['POST', `/v1/subscriptions/${id}/pause`],
      ['POST', `/v1/subscriptions/${id}/resume`],
      ['POST', `/v1/subscriptions/${id}/test`],
      ['POST', `/v1/subscriptions/${id}/secret/rotate`, {}],
      ['POST', `/v1/subscriptions/${id}/replay`, { from: '2025-01-01T00:00:00Z' }],
      ['GET', `/v1/subscriptions/${id}/replays`],
      ['GET', `/v1/subscriptions/${id}/deliveries`],
      ['GET', `/v1/subscriptions/${id}/dead-letters`],
      ['POST', `/v1/subscriptions/${id}/dead-letters/redrive`, {}],
      ['GET', `/v1/subscriptions/${id}/stats`],
      ['GET', `/tmf-api/event/v4/hub/${id}`],
      ['DELETE', `/tmf-api/event/v4/hub/${id}`],
      ['DELETE', `/v1/subscriptions/${id}`],
    ];
    for (const [method, path, body] of attempts) {
      const response = await api.request<ProblemBody>(method, path, { key: tenantB, body });
      expect([method, path, response.status]).toEqual([method, path, 404]);
      expect(response.body.code).toBe('store.subscription.not_found');
    }
    const unknown = await api.request<ProblemBody>('GET', '/v1/subscriptions/sub_does_not_exist', {
      key: tenantB,
    });
    expect(unknown.status).toBe(404);
    const still = await api.request<SubscriptionBody>('GET', `/v1/subscriptions/${id}`, {
      key: tenantA,
    });
    expect(still.body).toMatchObject({ status: 'active', version: 1 });
    // The admin sees every tenant.
    expect((await api.request('GET', `/v1/subscriptions/${id}`)).status).toBe(200);
  });

  it('enforces scopes: 401 without a key, 403 without the scope', async () => {
    expect((await api.request('GET', '/v1/subscriptions', { key: null })).status).toBe(401);
    expect((await api.request('GET', '/v1/subscriptions', { key: 'hk_nope' })).status).toBe(401);
    const streamsOnly = await api.createKey('tenant-a', ['streams:read']);
    expect((await api.request('GET', '/v1/subscriptions', { key: streamsOnly })).status).toBe(403);
    const write = await api.request('POST', '/v1/subscriptions', {
      key: readOnlyA,
      body: webhook(),
    });
    expect(write.status).toBe(403);
    expect((await api.request('GET', '/v1/subscriptions', { key: readOnlyA })).status).toBe(200);
    for (const [method, path] of [
      ['GET', '/v1/api-keys'],
      ['POST', '/v1/api-keys'],
      ['DELETE', '/v1/api-keys/0123456789abcdef'],
    ] as const) {
      const body = method === 'POST' ? {} : undefined;
      expect((await api.request(method, path, { key: tenantA, body })).status).toBe(403);
    }
    const otherTenant = await api.request('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook({ tenant: 'tenant-b' }),
    });
    expect(otherTenant.status).toBe(403);
  });

  it('limits a key restricted to order.* to order types', async () => {
    const allowed = await api.request('POST', '/v1/subscriptions', {
      key: orderOnlyA,
      body: webhook({ types: ['order.created', 'order.*'] }),
    });
    expect(allowed.status).toBe(201);
    const refused = await api.request<ProblemBody>('POST', '/v1/subscriptions', {
      key: orderOnlyA,
      body: webhook({ types: ['order.*', 'payment.*'] }),
    });
    expect(refused.status).toBe(403);
    expect(refused.body.errors?.[0]?.pointer).toBe('/types/1');
    expect(refused.body.errors?.[0]?.message).toContain('payment.captured');
    const wide = await api.request('POST', '/v1/subscriptions', {
      key: orderOnlyA,
      body: webhook({ types: ['**'] }),
    });
    expect(wide.status).toBe(403);
    const id = (allowed.body as unknown as SubscriptionBody).id;
    const widened = await api.request('PATCH', `/v1/subscriptions/${id}`, {
      key: orderOnlyA,
      body: { types: ['payment.captured'] },
    });
    expect(widened.status).toBe(403);
  });

  it('keeps a key limited to order.* away from its tenant’s other subscriptions', async () => {
    const orderReader = await api.createKey('tenant-a', [
      'subscriptions:read:order.*',
      'subscriptions:write:order.*',
    ]);
    const payments = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook({ types: ['payment.*'] }),
    });
    const orders = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook({ types: ['order.*'] }),
    });
    const path = `/v1/subscriptions/${payments.body.id}`;
    const writes: [string, string, unknown][] = [
      ['PATCH', path, { url: 'https://attacker.example/h' }],
      ['POST', `${path}/pause`, {}],
      ['POST', `${path}/secret/rotate`, { graceSeconds: 0 }],
      ['POST', `${path}/replay`, { from: '2020-01-01T00:00:00Z' }],
      ['POST', `${path}/dead-letters/redrive`, {}],
      ['POST', `${path}/test`, {}],
      ['DELETE', path, undefined],
    ];
    const reads: [string, string, unknown][] = [
      ['GET', path, undefined],
      ['GET', `${path}/deliveries`, undefined],
      ['GET', `${path}/dead-letters`, undefined],
      ['GET', `${path}/stats`, undefined],
    ];
    const statusOf = async (key: string, [method, target, body]: [string, string, unknown]) => [
      method,
      target,
      (await api.request(method, target, { key, body })).status,
    ];
    // Limited in both scopes: as for another tenant's, not found.
    for (const attempt of [...reads, ...writes])
      expect(await statusOf(orderReader, attempt)).toEqual([attempt[0], attempt[1], 404]);
    // Reading every type but writing only order.*: it sees the subscription and may not change it.
    for (const attempt of reads)
      expect(await statusOf(orderOnlyA, attempt)).toEqual([attempt[0], attempt[1], 200]);
    for (const attempt of writes)
      expect(await statusOf(orderOnlyA, attempt)).toEqual([attempt[0], attempt[1], 403]);
    const after = await api.request<{ url: string; status: string }>('GET', path, { key: tenantA });
    expect(after.body).toMatchObject({ url: 'https://hooks.example.com/herald', status: 'active' });
    // Its own types it still reads and manages; the list shows only those.
    const own = `/v1/subscriptions/${orders.body.id}`;
    expect((await api.request('GET', own, { key: orderReader })).status).toBe(200);
    expect((await api.request('POST', `${own}/pause`, { key: orderReader, body: {} })).status).toBe(
      200,
    );
    const listed: { id: string; types: string[] }[] = [];
    let cursor: string | null = null;
    do {
      const page: {
        body: { items: { id: string; types: string[] }[]; nextCursor: string | null };
      } = await api.request(
        'GET',
        `/v1/subscriptions?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
        {
          key: orderReader,
        },
      );
      listed.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(listed.map((s) => s.id)).toContain(orders.body.id);
    expect(listed.map((s) => s.id)).not.toContain(payments.body.id);
    for (const item of listed) for (const glob of item.types) expect(glob).toMatch(/^order\./);
  });

  it('refuses replays and redrives of a paused subscription, whose work fanout would drop', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook(),
    });
    const path = `/v1/subscriptions/${created.body.id}`;
    expect((await api.request('POST', `${path}/pause`, { key: tenantA, body: {} })).status).toBe(
      200,
    );
    const replay = await api.request<ProblemBody>('POST', `${path}/replay`, {
      key: tenantA,
      body: { from: '2020-01-01T00:00:00Z' },
    });
    const redrive = await api.request<ProblemBody>('POST', `${path}/dead-letters/redrive`, {
      key: tenantA,
      body: {},
    });
    for (const refused of [replay, redrive]) {
      expect(refused.status).toBe(409);
      expect(refused.body.detail).toContain('paused');
    }
    expect((await api.request('POST', `${path}/resume`, { key: tenantA, body: {} })).status).toBe(
      200,
    );
  });

  it('refuses delivery-log cursors Redis would choke on with 400, not 500', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook(),
    });
    for (const cursor of ['0-0', '99999999999999999999-0', '1-99999999999999999999']) {
      const answer = await api.request<ProblemBody>(
        'GET',
        `/v1/subscriptions/${created.body.id}/deliveries?cursor=${cursor}`,
        { key: tenantA },
      );
      expect([cursor, answer.status]).toEqual([cursor, 400]);
    }
    const fine = await api.request(
      'GET',
      `/v1/subscriptions/${created.body.id}/deliveries?cursor=1-0`,
      {
        key: tenantA,
      },
    );
    expect(fine.status).toBe(200);
  });

  it('answers bad input with 400, 413, 415 and 422 problems, never 500', async () => {
    const cases: [string, Parameters<TestApi['request']>[2], number, string?][] = [
      ['malformed JSON', { raw: '{"types": [', contentType: 'application/json' }, 400],
      ['a JSON array', { body: [1, 2] }, 400, ''],
      ['unknown field', { body: webhook({ colour: 'blue' }) }, 400, '/colour'],
      ['missing types', { body: { url: 'https://hooks.example.com/x' } }, 400, '/types'],
      ['bad glob', { body: webhook({ types: ['order.*x'] }) }, 400, '/types/0'],
      ['glob matching nothing', { body: webhook({ types: ['invoice.*'] }) }, 422, '/types/0'],
      [
        'unknown filter operator',
        { body: webhook({ filter: { 'data.total': { $where: '1' } } }) },
        400,
        '/filter/data.total/$where',
      ],
      [
        'bad regex',
        { body: webhook({ filter: { type: { $regex: '([' } } }) },
        400,
        '/filter/type/$regex',
      ],
      ['bad kind', { body: webhook({ kind: 'email' }) }, 400, '/kind'],
      ['bad format', { body: webhook({ format: 'xml' }) }, 400, '/format'],
      ['bad from', { body: webhook({ from: 'yesterday' }) }, 400, '/from'],
      ['maxInFlight 0', { body: webhook({ maxInFlight: 0 }) }, 400, '/maxInFlight'],
      ['maxInFlight 1001', { body: webhook({ maxInFlight: 1001 }) }, 400, '/maxInFlight'],
      ['bad retry', { body: webhook({ retry: { schedule: ['soon'] } }) }, 400, '/retry/schedule'],
      ['reserved header', { body: webhook({ headers: { 'webhook-id': 'x' } }) }, 422, '/headers'],
      ['bad auth', { body: webhook({ auth: { type: 'bearer' } }) }, 400, '/auth/token'],
      [
        'bearer token no header can carry',
        { body: webhook({ auth: { type: 'bearer', token: 'tök€n' } }) },
        400,
        '/auth/token',
      ],
      [
        'bearer token with a line break',
        { body: webhook({ auth: { type: 'bearer', token: 'abc\r\nX-Injected: 1' } }) },
        400,
        '/auth/token',
      ],
      [
        'basic user name with a colon',
        { body: webhook({ auth: { type: 'basic', username: 'a:b', password: 'p' } }) },
        400,
        '/auth/username',
      ],
      [
        'too much metadata',
        {
          body: webhook({
            metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])),
          }),
        },
        400,
        '/metadata',
      ],
      ['webhook without url', { body: { types: ['order.*'] } }, 400, '/url'],
      ['text body', { raw: 'hello', contentType: 'text/plain' }, 415],
      ['form body', { raw: 'a=b', contentType: 'application/x-www-form-urlencoded' }, 415],
      ['huge body', { body: webhook({ description: 'x'.repeat(70 * 1024) }) }, 413],
    ];
    for (const [name, options, status, pointer] of cases) {
      const response = await api.request<ProblemBody>('POST', '/v1/subscriptions', {
        key: tenantA,
        ...options,
      });
      expect([name, response.status]).toEqual([name, status]);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      if (status === 400 && pointer !== undefined)
        expect([name, response.body.code]).toEqual([name, 'subscriptions.invalid']);
      if (pointer !== undefined) {
        expect([name, response.body.errors?.map((e) => e.pointer)]).toEqual([
          name,
          expect.arrayContaining([pointer]),
        ]);
      }
    }
  });

  it('patches with optimistic versions and refuses fields that cannot change', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook(),
    });
    const path = `/v1/subscriptions/${created.body.id}`;
    const read = await api.request('GET', path, { key: tenantA });
    expect(read.headers.get('etag')).toBe('"1"');
    const patched = await api.request<SubscriptionBody>('PATCH', path, {
      key: tenantA,
      headers: { 'if-match': '"1"' },
      contentType: 'application/merge-patch+json',
      body: { types: ['payment.*'], maxInFlight: 4, filter: { 'data.amount': { $gte: 10 } } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ types: ['payment.*'], maxInFlight: 4, version: 2 });
    const stale = await api.request<ProblemBody>('PATCH', path, {
      key: tenantA,
      headers: { 'if-match': '"1"' },
      body: { maxInFlight: 5 },
    });
    expect(stale.status).toBe(409);
    const immutable = await api.request<ProblemBody>('PATCH', path, {
      key: tenantA,
      body: { kind: 'stream', status: 'active' },
    });
    expect(immutable.status).toBe(400);
    expect(immutable.body.errors?.map((e) => e.pointer)).toEqual(['/kind', '/status']);
    const refusedUrl = await api.request<ProblemBody>('PATCH', path, {
      key: tenantA,
      body: { url: 'http://10.0.0.1/' },
    });
    expect(refusedUrl.status).toBe(422);
  });

  // The contract's glob syntax, the streams and fanout take globs of up to 256 characters.
  it('takes type globs as long as the rest of Herald does (256 characters), and no longer', async () => {
    // 256 characters that match order.created (runs of ** count as one).
    const longest = `${'**.'.repeat(83)}order.*`;
    expect(longest).toHaveLength(256);
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook({ types: [longest] }),
    });
    expect([created.status, created.body.types]).toEqual([201, [longest]]);
    const path = `/v1/subscriptions/${created.body.id}`;
    const patched = await api.request<SubscriptionBody>('PATCH', path, {
      key: tenantA,
      body: { types: [longest, 'payment.*'] },
    });
    expect([patched.status, patched.body.types]).toEqual([200, [longest, 'payment.*']]);
    const stream = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: { kind: 'stream', types: [longest] },
    });
    expect(stream.status).toBe(201);

    const tooLong = `*.${longest}`;
    for (const [method, url, body] of [
      ['POST', '/v1/subscriptions', webhook({ types: ['order.*', tooLong] })],
      ['PATCH', path, { types: ['order.*', tooLong] }],
    ] as const) {
      const refused = await api.request<ProblemBody>(method, url, { key: tenantA, body });
      expect([method, refused.status, refused.body.code]).toEqual([
        method,
        400,
        'subscriptions.invalid',
      ]);
      expect(refused.body.errors?.map((e) => e.pointer)).toEqual(['/types/1']);
    }
    expect((await api.request<SubscriptionBody>('GET', path, { key: tenantA })).body.types).toEqual(
      [longest, 'payment.*'],
    );
  });

  // Fanout's token bucket waits 1/maxPerSecond seconds between requests: 1e-9 sent one request
  // and then nothing for 31 years.
  it('refuses a maxPerSecond below 1 on create and PATCH, naming the field', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook({ maxPerSecond: 1 }),
    });
    expect([created.status, created.body.maxPerSecond]).toEqual([201, 1]);
    const path = `/v1/subscriptions/${created.body.id}`;
    for (const tiny of [1e-9, 0.5, 0.999, 0, -1]) {
      const refusals = [
        await api.request<ProblemBody>('POST', '/v1/subscriptions', {
          key: tenantA,
          body: webhook({ maxPerSecond: tiny }),
        }),
        await api.request<ProblemBody>('PATCH', path, {
          key: tenantA,
          body: { maxPerSecond: tiny },
        }),
      ];
      for (const refused of refusals) {
        expect([tiny, refused.status, refused.body.code]).toEqual([
          tiny,
          400,
          'subscriptions.invalid',
        ]);
        expect(refused.body.errors).toEqual([
          {
            pointer: '/maxPerSecond',
            message: 'must be at least 1 (requests per second); null for no limit',
          },
        ]);
      }
    }
    const unchanged = await api.request<SubscriptionBody>('GET', path, { key: tenantA });
    expect([unchanged.body.maxPerSecond, unchanged.body.version]).toEqual([1, 1]);
    const fractional = await api.request<SubscriptionBody>('PATCH', path, {
      key: tenantA,
      body: { maxPerSecond: 2.5 },
    });
    expect([fractional.status, fractional.body.maxPerSecond]).toEqual([200, 2.5]);
    const unlimited = await api.request<SubscriptionBody>('PATCH', path, {
      key: tenantA,
      body: { maxPerSecond: null },
    });
    expect([unlimited.status, unlimited.body.maxPerSecond]).toEqual([200, null]);
  });

  it('refuses webhook-only fields on a stream subscription alike on create and PATCH', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: { kind: 'stream', types: ['kitchen.**'] },
    });
    expect(created.status).toBe(201);
    const path = `/v1/subscriptions/${created.body.id}`;
    const webhookOnly: [string, unknown][] = [
      ['url', 'https://hooks.example.com/x'],
      ['headers', { 'x-team': 'a' }],
      ['auth', { type: 'bearer', token: 't' }],
      ['verification', 'websub'],
      ['retry', { schedule: ['5s'] }],
      ['maxPerSecond', 5],
      ['format', 'standard'],
      ['ordering', 'none'],
      ['maxInFlight', 4],
    ];
    for (const [field, value] of webhookOnly) {
      const refusals = [
        await api.request<ProblemBody>('POST', '/v1/subscriptions', {
          key: tenantA,
          body: { kind: 'stream', types: ['kitchen.**'], [field]: value },
        }),
        await api.request<ProblemBody>('PATCH', path, { key: tenantA, body: { [field]: value } }),
      ];
      for (const refused of refusals) {
        expect([field, refused.status, refused.body.code, refused.body.errors]).toEqual([
          field,
          400,
          'subscriptions.invalid',
          [{ pointer: `/${field}`, message: 'applies to webhooks only' }],
        ]);
      }
    }
    const unchanged = await api.request<SubscriptionBody>('GET', path, { key: tenantA });
    expect(unchanged.body).toMatchObject({
      version: 1,
      format: 'cloudevents',
      ordering: 'key',
      maxInFlight: 16,
    });

    // The values every stream has change nothing, and stay accepted.
    const streamValues = {
      headers: {},
      auth: null,
      verification: 'none',
      maxPerSecond: null,
      format: 'cloudevents',
      ordering: 'key',
      maxInFlight: 16,
    };
    const same = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: { kind: 'stream', types: ['kitchen.**'], ...streamValues },
    });
    expect(same.status).toBe(201);
    const samePatch = await api.request<SubscriptionBody>('PATCH', path, {
      key: tenantA,
      body: { ...streamValues, description: 'tail' },
    });
    expect([samePatch.status, samePatch.body.description]).toEqual([200, 'tail']);
  });

  // PATCH takes a JSON merge patch (RFC 7396) or plain JSON; a JSON Patch (RFC 6902) is a list
  // of operations, which was read as a document and refused as a malformed one (400).
  it('answers 415 naming what it takes to a body in a media type the endpoint does not take', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook(),
    });
    const path = `/v1/subscriptions/${created.body.id}`;
    const jsonPatch = [{ op: 'replace', path: '/description', value: 'x' }];
    const cases: [string, string, unknown, string][] = [
      ['PATCH', path, jsonPatch, 'application/json-patch+json'],
      ['PATCH', path, { description: 'x' }, 'application/problem+json'],
      ['PATCH', path, { description: 'x' }, 'text/plain'],
      ['POST', '/v1/subscriptions', webhook(), 'application/merge-patch+json'],
      ['POST', '/v1/subscriptions', webhook(), 'application/cloudevents+json'],
      ['POST', `${path}/replay`, { from: 'earliest' }, 'application/vnd.api+json'],
      ['POST', '/v1/api-keys', { name: 'n', tenant: 't', scopes: [] }, 'application/x+json'],
    ];
    for (const [method, url, body, contentType] of cases) {
      const refused = await api.request<ProblemBody>(method, url, {
        key: tenantA,
        raw: JSON.stringify(body),
        contentType,
      });
      const accepted =
        method === 'PATCH' ? 'application/merge-patch+json, application/json' : 'application/json';
      expect([
        method,
        contentType,
        refused.status,
        refused.headers.get('content-type'),
        refused.body.code,
        refused.body.detail,
        refused.headers.get('accept'),
        refused.headers.get('accept-patch'),
      ]).toEqual([
        method,
        contentType,
        415,
        expect.stringContaining('application/problem+json'),
        'subscriptions.unsupported_media_type',
        `Send ${accepted.split(', ').join(' or ')}, not ${contentType}`,
        accepted,
        method === 'PATCH' ? accepted : null,
      ]);
    }
    const unchanged = await api.request<SubscriptionBody>('GET', path, { key: tenantA });
    expect([unchanged.body.version, unchanged.body.description]).toEqual([1, null]);

    for (const contentType of [
      'application/merge-patch+json',
      'application/json',
      'Application/JSON; charset=utf-8',
    ]) {
      const patched = await api.request<SubscriptionBody>('PATCH', path, {
        key: tenantA,
        raw: JSON.stringify({ description: contentType }),
        contentType,
      });
      expect([contentType, patched.status, patched.body.description]).toEqual([
        contentType,
        200,
        contentType,
      ]);
    }
  });

  it('holds pause, resume and delete to If-Match too: a stale ETag is 409 and changes nothing', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook(),
    });
    const path = `/v1/subscriptions/${created.body.id}`;
    const stale = { 'if-match': '"1"' };
    // Someone else changes it: version 2.
    await api.request('PATCH', path, { key: tenantA, body: { description: 'changed' } });
    for (const [method, target] of [
      ['POST', `${path}/pause`],
      ['POST', `${path}/resume`],
      ['DELETE', path],
    ] as const) {
      const refused = await api.request<ProblemBody>(method, target, {
        key: tenantA,
        headers: stale,
      });
      expect([method, target, refused.status]).toEqual([method, target, 409]);
    }
    const unchanged = await api.request<SubscriptionBody>('GET', path, { key: tenantA });
    expect(unchanged.body).toMatchObject({ status: 'active', version: 2 });
    const paused = await api.request<SubscriptionBody>('POST', `${path}/pause`, {
      key: tenantA,
      headers: { 'if-match': '"2"' },
    });
    expect(paused.body).toMatchObject({ status: 'paused', version: 3 });
    const deleted = await api.request('DELETE', path, {
      key: tenantA,
      headers: { 'if-match': '"3"' },
    });
    expect(deleted.status).toBe(204);
  });

  it('pauses, resumes and deletes', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook(),
    });
    const path = `/v1/subscriptions/${created.body.id}`;
    const paused = await api.request<SubscriptionBody>('POST', `${path}/pause`, { key: tenantA });
    expect(paused.body.status).toBe('paused');
    const resumed = await api.request<SubscriptionBody>('POST', `${path}/resume`, { key: tenantA });
    expect(resumed.body.status).toBe('active');
    const deleted = await api.request('DELETE', path, { key: tenantA });
    expect(deleted.status).toBe(204);
    expect((await api.request('GET', path, { key: tenantA })).status).toBe(404);
    expect((await api.request('DELETE', path, { key: tenantA })).status).toBe(404);
  });

  it('accepts replays for the engine and shows their progress', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook(),
    });
    const path = `/v1/subscriptions/${created.body.id}`;
    const accepted = await api.request<{ replayId: string }>('POST', `${path}/replay`, {
      key: tenantA,
      body: { from: '2025-01-01T00:00:00Z', to: '2025-01-02T00:00:00Z' },
    });
    expect(accepted.status).toBe(202);
    const { replayId } = accepted.body;
    expect(accepted.headers.get('location')).toBe(`${path}/replays/${replayId}`);
    const progress = await api.request('GET', `${path}/replays/${replayId}`, { key: tenantA });
    expect(progress.body).toMatchObject({
      id: replayId,
      status: 'requested',
      from: { time: '2025-01-01T00:00:00.000Z' },
      to: { time: '2025-01-02T00:00:00.000Z' },
      progress: { scanned: 0, matched: 0, delivered: 0, deadLettered: 0 },
    });
    expect(await api.store.redis.client.lrange(api.store.keys.replayQueue(), 0, -1)).toContain(
      replayId,
    );
    const byCursor = await api.request('POST', `${path}/replay`, {
      key: tenantA,
      body: { from: streamCursor('orders.v1', 0, 123) },
    });
    expect(byCursor.status).toBe(202);
    const listed = await api.request<{ items: unknown[] }>('GET', `${path}/replays`, {
      key: tenantA,
    });
    expect(listed.body.items).toHaveLength(2);
    for (const [body, status] of [
      [{ from: '2025-01-02T00:00:00Z', to: '2025-01-01T00:00:00Z' }, 422],
      [{ from: '2999-01-01T00:00:00Z' }, 422],
      [{ from: '2025-13-01T00:00:00Z' }, 400],
      [{ from: 'has spaces in it' }, 400],
      [{}, 400],
    ] as const) {
      const response = await api.request('POST', `${path}/replay`, { key: tenantA, body });
      expect([body, response.status]).toEqual([body, status]);
    }
    const missing = await api.request('GET', `${path}/replays/rpl_01HQ3K9Z4M7N2P5R8T1V6X0Y3B`, {
      key: tenantA,
    });
    expect(missing.status).toBe(404);
  });

  it('refuses replay cursors fanout could not read with 400, rather than a replay that fails later', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook(),
    });
    const path = `/v1/subscriptions/${created.body.id}`;
    const cursor = streamCursor('orders.v1', 2, 99);
    const edited = `${cursor.slice(0, 8)}${cursor[8] === 'A' ? 'B' : 'A'}${cursor.slice(9)}`;
    for (const [body, pointer] of [
      [{ from: 'garbage' }, '/from'],
      [{ from: 'earliest' }, '/from'],
      [{ from: 'latest' }, '/from'],
      [{ from: cursor.slice(0, -3) }, '/from'],
      [{ from: edited }, '/from'],
      [{ from: Buffer.from('orders.v1:0:123').toString('base64') }, '/from'],
      // Its checksum holds, but fanout's decoder finds a byte after the positions.
      [{ from: withTrailingByte(cursor) }, '/from'],
      [{ from: '2025-01-01T00:00:00Z', to: 'now' }, '/to'],
    ] as const) {
      const response = await api.request<ProblemBody>('POST', `${path}/replay`, {
        key: tenantA,
        body,
      });
      expect([body, response.status, response.body.code]).toEqual([
        body,
        400,
        'subscriptions.invalid',
      ]);
      expect([body, response.body.errors?.map((e) => e.pointer)]).toEqual([body, [pointer]]);
    }
    const replays = await api.request<{ items: unknown[] }>('GET', `${path}/replays`, {
      key: tenantA,
    });
    expect(replays.body.items).toEqual([]);
    const accepted = await api.request('POST', `${path}/replay`, {
      key: tenantA,
      body: { from: cursor, to: '2025-01-01T00:00:00Z' },
    });
    expect(accepted.status).toBe(202);
    // A cursor over a thousand partitions (longer than 4,096 characters) is still one fanout reads.
    const wide = encodeCursor(
      new Map(Array.from({ length: 1000 }, (_, p) => [topicPartitionKey('orders.v1', p), 1_000n])),
    );
    expect(wide.length).toBeGreaterThan(4096);
    const acceptedWide = await api.request('POST', `${path}/replay`, {
      key: tenantA,
      body: { from: wide },
    });
    expect(acceptedWide.status).toBe(202);
  });

  it('refuses a JSON null body like any other non-object, and changes nothing', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook(),
    });
    const path = `/v1/subscriptions/${created.body.id}`;
    const queued = () => api.store.redis.client.llen(api.store.keys.redriveQueue());
    const redrivesBefore = await queued();
    for (const [method, target] of [
      ['POST', '/v1/subscriptions'],
      ['PATCH', path],
      ['POST', `${path}/secret/rotate`],
      ['POST', `${path}/replay`],
      ['POST', `${path}/dead-letters/redrive`],
      ['POST', '/tmf-api/event/v4/hub'],
    ] as const) {
      const response = await api.request<ProblemBody>(method, target, {
        key: tenantA,
        raw: 'null',
        contentType: 'application/json',
      });
      expect([method, target, response.status, response.body.errors]).toEqual([
        method,
        target,
        400,
        [{ pointer: '', message: 'Invalid input: expected object, received null' }],
      ]);
    }
    const after = await api.request<SubscriptionBody>('GET', path, { key: tenantA });
    expect(after.body.version).toBe(1);
    expect(await queued()).toBe(redrivesBefore);
    // No body at all is still an empty one: rotation and redrive take their defaults, the
    // old secret signing on for a day (86,400 s).
    const rotatedAt = Date.now();
    const rotated = await api.request<{ previousSecretExpiresAt: string | null }>(
      'POST',
      `${path}/secret/rotate`,
      { key: tenantA },
    );
    expect(rotated.status).toBe(200);
    const graceMs = Date.parse(rotated.body.previousSecretExpiresAt ?? '') - rotatedAt;
    expect(graceMs).toBeGreaterThan(86_400_000 - 60_000);
    expect(graceMs).toBeLessThan(86_400_000 + 60_000);
  });

  it('answers a PATCH naming an Object.prototype member as an unknown field, with a message', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook(),
    });
    const path = `/v1/subscriptions/${created.body.id}`;
    for (const field of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      const response = await api.request<ProblemBody>('PATCH', path, {
        key: tenantA,
        raw: JSON.stringify({ [field]: 1 }),
        contentType: 'application/json',
      });
      expect([field, response.status, response.body.errors]).toEqual([
        field,
        400,
        [{ pointer: `/${field}`, message: 'is not a known field' }],
      ]);
      expect(response.body.detail).toBe(`Invalid request: /${field} is not a known field`);
    }
  });

  it('shows the delivery log, dead letters, redrives and stats the engine writes', async () => {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key: tenantA,
      body: webhook(),
    });
    const id = created.body.id;
    const path = `/v1/subscriptions/${id}`;
    const log = new DeliveryLogRepository(api.store.redis, api.store.keys);
    for (let i = 0; i < 4; i += 1) {
      await log.append(id, {
        eventId: `event-${i}`,
        type: 'order.created',
        attempt: 1,
        at: new Date().toISOString(),
        status: i % 2 === 0 ? 'failed' : 'succeeded',
        statusCode: i % 2 === 0 ? 500 : 204,
        durationMs: 12,
        error: i % 2 === 0 ? 'the endpoint answered 500' : null,
        responseBody: 'oops',
        replay: false,
        test: false,
      });
    }
    const page = await api.request<{ items: { eventId: string }[]; nextCursor: string }>(
      'GET',
      `${path}/deliveries?limit=3`,
      { key: tenantA },
    );
    expect(page.body.items.map((a) => a.eventId)).toEqual(['event-3', 'event-2', 'event-1']);
    const next = await api.request<{ items: { eventId: string }[] }>(
      'GET',
      `${path}/deliveries?limit=3&cursor=${page.body.nextCursor}`,
      { key: tenantA },
    );
    expect(next.body.items.map((a) => a.eventId)).toEqual(['event-0']);
    const failed = await api.request<{ items: { eventId: string; statusCode: number }[] }>(
      'GET',
      `${path}/deliveries?status=failed`,
      { key: tenantA },
    );
    expect(failed.body.items.map((a) => a.eventId)).toEqual(['event-2', 'event-0']);
    expect(
      (await api.request('GET', `${path}/deliveries?status=lost`, { key: tenantA })).status,
    ).toBe(400);

    const letters = new DeadLetterRepository(api.store.redis, api.store.keys);
    const letter = (
      await letters.add(
        newDeadLetterRecord(id, 0, {
          eventId: 'event-0',
          partition: 2,
          offset: '41',
          key: 'order-1',
          lastStatus: 500,
        }),
      )
    ).letter!;
    const listed = await api.request<{ items: { id: string }[] }>('GET', `${path}/dead-letters`, {
      key: tenantA,
    });
    expect(listed.body.items.map((l) => l.id)).toEqual([letter.id]);
    const redrive = await api.request<{ redriveId: string }>(
      'POST',
      `${path}/dead-letters/redrive`,
      {
        key: tenantA,
        body: { ids: [letter.id] },
      },
    );
    expect(redrive.status).toBe(202);
    const claimed = await letters.claimRedrive();
    expect(claimed).toMatchObject({
      id: redrive.body.redriveId,
      subscriptionId: id,
      ids: [letter.id],
    });
    const all = await api.request('POST', `${path}/dead-letters/redrive`, { key: tenantA });
    expect(all.status).toBe(202);
    const unknown = await api.request<ProblemBody>('POST', `${path}/dead-letters/redrive`, {
      key: tenantA,
      body: { ids: ['dlq_01HQ3K9Z4M7N2P5R8T1V6X0Y3B'] },
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors?.[0]?.pointer).toBe('/ids/0');

    const stats = new SubscriptionStatsRepository(api.store.redis, api.store.keys);
    await stats.record(
      id,
      { delivered: 3, failed: 2, deadLettered: 1 },
      new Date('2025-05-05T00:00:00Z'),
    );
    // `pending` is kept by fanout's retry parking scripts; here it is set as they would.
    await api.store.redis.client.hset(api.store.keys.subscriptionStats(id), 'pending', '1');
    await stats.reportHeld('engine-1', new Map([[id, 12]]));
    const shown = await api.request('GET', `${path}/stats`, { key: tenantA });
    expect(shown.body).toEqual({
      delivered: 3,
      failed: 2,
      pending: 1,
      deadLettered: 1,
      lagEvents: 12,
      lastSuccessAt: '2025-05-05T00:00:00.000Z',
      lastFailureAt: '2025-05-05T00:00:00.000Z',
    });
  });

  it('manages API keys: admin only, shown once, deleted keys stop working', async () => {
    const created = await api.request<{ id: string; key: string; scopes: unknown }>(
      'POST',
      '/v1/api-keys',
      {
        body: {
          name: 'ci',
          tenant: 'tenant-k',
          scopes: ['subscriptions:read', 'subscriptions:write:order.*'],
        },
      },
    );
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/v1/api-keys/${created.body.id}`);
    expect(created.body.scopes).toEqual([
      { scope: 'subscriptions:read', types: null },
      { scope: 'subscriptions:write', types: ['order.*'] },
    ]);
    const listed = await api.request('GET', '/v1/api-keys?tenant=tenant-k');
    expect(listed.text).toContain(created.body.id);
    expect(listed.text).not.toContain(created.body.key);
    expect((await api.request('GET', '/v1/subscriptions', { key: created.body.key })).status).toBe(
      200,
    );
    expect((await api.request('DELETE', `/v1/api-keys/${created.body.id}`)).status).toBe(204);
    expect((await api.request('DELETE', `/v1/api-keys/${created.body.id}`)).status).toBe(404);
    expect((await api.request('GET', '/v1/subscriptions', { key: created.body.key })).status).toBe(
      401,
    );
    const bad = await api.request<ProblemBody>('POST', '/v1/api-keys', {
      body: { name: 'x', tenant: 't', scopes: ['events:eat'] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.[0]?.pointer).toBe('/scopes/0');
    const badTenant = await api.request('POST', '/v1/api-keys', {
      body: { name: 'x', tenant: 'a b', scopes: ['admin'] },
    });
    expect(badTenant.status).toBe(400);
  });

  it('refuses an API key the bootstrap admin would share or an admin it cannot limit (400)', async () => {
    const bootstrapTenant = await api.request<ProblemBody>('POST', '/v1/api-keys', {
      body: { name: 'x', tenant: 'admin', scopes: ['subscriptions:read'] },
    });
    expect(bootstrapTenant.status).toBe(400);
    expect(bootstrapTenant.body.errors).toEqual([
      { pointer: '/tenant', message: expect.stringContaining('reserved') as unknown },
    ]);
    const limitedAdmin = await api.request<ProblemBody>('POST', '/v1/api-keys', {
      body: { name: 'x', tenant: 'tenant-k', scopes: [{ scope: 'admin', types: ['order.*'] }] },
    });
    expect(limitedAdmin.status).toBe(400);
    expect(limitedAdmin.body.errors).toEqual([
      { pointer: '/scopes/0/types', message: expect.stringContaining('admin') as unknown },
    ]);
    const listed = await api.request<{ items: unknown[] }>('GET', '/v1/api-keys?tenant=admin');
    expect(listed.body.items).toEqual([]);
  });

  it('answers a bad API-key request with 400 api_keys.invalid, naming the field', async () => {
    const key = { name: 'ci', tenant: 'tenant-k', scopes: ['subscriptions:read'] };
    const cases: [string, Parameters<TestApi['request']>[2], string][] = [
      // Malformed: not an object, a field missing, a field unknown.
      ['a JSON array', { body: [key] }, ''],
      ['a JSON string', { body: 'ci' }, ''],
      ['no scopes', { body: { name: 'ci', tenant: 'tenant-k' } }, '/scopes'],
      ['unknown field', { body: { ...key, colour: 'blue' } }, '/colour'],
      // Wrongly typed.
      ['name a number', { body: { ...key, name: 42 } }, '/name'],
      ['tenant null', { body: { ...key, tenant: null } }, '/tenant'],
      ['scopes a string', { body: { ...key, scopes: 'admin' } }, '/scopes'],
      ['scope an object without scope', { body: { ...key, scopes: [{ types: [] }] } }, '/scopes/0'],
      // Oversized, or out of range.
      ['name over 100 characters', { body: { ...key, name: 'n'.repeat(101) } }, '/name'],
      ['tenant over 64 characters', { body: { ...key, tenant: 't'.repeat(65) } }, '/tenant'],
      ['no scope at all', { body: { ...key, scopes: [] } }, '/scopes'],
      ['tenant with a space', { body: { ...key, tenant: 'a b' } }, '/tenant'],
      // What only the scope parser finds.
      ['unknown scope', { body: { ...key, scopes: ['events:eat'] } }, '/scopes/0'],
      [
        'admin limited to types',
        { body: { ...key, scopes: [{ scope: 'admin', types: ['order.*'] }] } },
        '/scopes/0/types',
      ],
    ];
    const answers: [string, number, string, string, (string | undefined)[]][] = [];
    for (const [name, options] of cases) {
      const response = await api.request<ProblemBody & { type: string }>(
        'POST',
        '/v1/api-keys',
        options,
      );
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      answers.push([
        name,
        response.status,
        response.body.code,
        response.body.type,
        response.body.errors?.map((e) => e.pointer) ?? [],
      ]);
    }
    // And the list's query.
    for (const [name, query] of [
      ['tenant with a space', 'tenant=a%20b'],
      ['tenant given twice', 'tenant=a&tenant=b'],
      ['unknown parameter', 'colour=blue'],
    ]) {
      const response = await api.request<ProblemBody & { type: string }>(
        'GET',
        `/v1/api-keys?${query}`,
      );
      answers.push([
        `list: ${name}`,
        response.status,
        response.body.code,
        response.body.type,
        response.body.errors?.map((e) => e.pointer) ?? [],
      ]);
    }
    const pointers = [...cases.map((c) => c[2]), '/tenant', '/tenant', '/colour'];
    expect(answers).toEqual(
      answers.map(([name], i): unknown[] => [
        name,
        400,
        'api_keys.invalid',
        'urn:herald:problem:api_keys.invalid',
        expect.arrayContaining([pointers[i]]),
      ]),
    );
    expect(
      (await api.request<{ items: unknown[] }>('GET', '/v1/api-keys?tenant=tenant-k')).body.items,
    ).not.toContainEqual(expect.objectContaining({ name: 'n'.repeat(101) }));
  });

  it('answers API-key bodies the HTTP layer refuses with its own codes, as on every route', async () => {
    const malformed = await api.request<ProblemBody>('POST', '/v1/api-keys', {
      raw: '{"name": "ci", "tenant": ',
      contentType: 'application/json',
    });
    expect([malformed.status, malformed.body.code]).toEqual([400, 'http.invalid']);
    const huge = await api.request<ProblemBody>('POST', '/v1/api-keys', {
      body: {
        name: 'ci',
        tenant: 'tenant-k',
        scopes: ['subscriptions:read'],
        x: 'x'.repeat(70_000),
      },
    });
    expect([huge.status, huge.body.code]).toEqual([413, 'http.too_large']);
  });

  it('reports herald_subscriptions{status} from the store', async () => {
    const metrics = await api.request('GET', '/metrics', { key: null });
    expect(metrics.text).toMatch(
      /herald_subscriptions\{status="active",service="herald-subscription-api"\} [1-9]/,
    );
    expect(metrics.text).toMatch(
      /herald_subscriptions\{status="paused",service="herald-subscription-api"\} \d/,
    );
    expect(metrics.text).toContain('herald_http_request_duration_seconds_bucket');
  });
});
