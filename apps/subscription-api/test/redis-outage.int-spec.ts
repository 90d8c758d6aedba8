import { RedisConnection, SubscriptionNotices } from '@herald/store';
import { queuedCommands } from '@herald/store/testing';
import { startRedisServer } from '@herald/test-harness';
import {
  PUBLIC_RESOLVER,
  eventually,
  startSubscriptionApi,
  type ApiResponse,
  type RequestOptions,
} from './subscription-api.harness';

const webhook = (overrides: Record<string, unknown> = {}) => ({
  kind: 'webhook',
  url: 'https://hooks.example.com/herald',
  types: ['order.*'],
  ...overrides,
});

/** Far beyond the deadline: on a server that waits for Redis, the test fails instead of hanging. */
const NEVER_ANSWERED_MS = 20_000;
/** Requests arriving while Redis hangs, as a busy API gets them. */
const FLOOD = 200;

function expectRedisUnavailable(response: ApiResponse | undefined, what: string): void {
  expect([what, response?.status]).toEqual([what, 503]);
  expect(response!.headers.get('retry-after')).toBe('5');
  expect(response!.headers.get('content-type')).toContain('application/problem+json');
  expect(response!.body).toMatchObject({
    status: 503,
    code: 'store.unavailable',
    detail: expect.stringContaining('Redis'),
  });
}

describe('subscription-api: a Redis that stops answering', () => {
  it('answers reads, changes and key lookups 503 with Retry-After, and takes back a creation Redis makes late', async () => {
    // Its own redis-server, so it can be stopped (SIGSTOP) and killed.
    const redis = await startRedisServer();
    const api = await startSubscriptionApi({
      env: { REDIS_URL: redis.url, SUBSCRIPTION_API_REDIS_TIMEOUT_MS: '500' },
      resolver: PUBLIC_RESOLVER,
    });
    const resume = () => {
      try {
        process.kill(redis.pid, 'SIGCONT');
      } catch {
        // Stopped for good already: nothing to resume.
      }
    };
    const guarded = (options: RequestOptions = {}): RequestOptions => ({
      ...options,
      signal: AbortSignal.timeout(NEVER_ANSWERED_MS),
    });
    try {
      const created = await api.request<{ id: string }>('POST', '/v1/subscriptions', {
        body: webhook({ tenant: 'acme' }),
      });
      expect(created.status).toBe(201);
      const { id } = created.body;
      // Keys never used yet: neither the admin key nor cached, so the guard looks them up.
      const stalledKey = await api.createKey('acme', ['subscriptions:read']);
      const goneKey = await api.createKey('acme', ['subscriptions:read']);
      const keysBefore = await api.request<{ items: { id: string }[] }>('GET', '/v1/api-keys');
      const notices = api.app.get(SubscriptionNotices);
      const seqBefore = await notices.currentSeq();

      // Each operation below documents the 503 it answers.
      const openapi = await api.request<{
        paths: Record<string, Record<string, { responses: Record<string, { headers?: object }> }>>;
      }>('GET', '/openapi.json', { key: null });
      for (const [method, path] of [
        ['get', '/v1/subscriptions/{id}'],
        ['post', '/v1/subscriptions'],
        ['get', '/v1/subscriptions'],
        ['post', '/v1/api-keys'],
      ] as const)
        expect([method, path, openapi.body.paths[path]?.[method]?.responses['503']]).toEqual([
          method,
          path,
          expect.objectContaining({
            headers: expect.objectContaining({ 'Retry-After': expect.anything() }),
          }),
        ]);

      // Stopped (SIGSTOP): the connection stays up and nothing answers, as in a network partition.
      process.kill(redis.pid, 'SIGSTOP');
      let stalled: ApiResponse[];
      try {
        stalled = await Promise.all([
          api.request('GET', `/v1/subscriptions/${id}`, guarded()),
          api.request('POST', '/v1/subscriptions', guarded({ body: webhook({ tenant: 'acme' }) })),
          api.request('GET', '/v1/subscriptions', guarded({ key: stalledKey })),
          api.request(
            'POST',
            '/v1/api-keys',
            guarded({ body: { name: 'late', tenant: 'acme', scopes: ['subscriptions:read'] } }),
          ),
        ]);
      } finally {
        resume();
      }
      const [read, write, lookup, keyWrite] = stalled;
      expectRedisUnavailable(read, 'a read');
      expectRedisUnavailable(write, 'a creation');
      expectRedisUnavailable(lookup, 'an API-key lookup');
      expectRedisUnavailable(keyWrite, 'an API key creation');

      // Redis made the creation once it ran again, after the answer: it is deleted again, so the
      // caller's retry does not leave two.
      const late = await eventually(async () => {
        const { notices: since } = await notices.since(seqBefore);
        const kinds = since.filter((n) => n.subscriptionId !== id).map((n) => n.kind);
        return kinds.includes('subscription.deleted') ? kinds : undefined;
      }, 'the late creation to be deleted');
      expect(late).toEqual(['subscription.created', 'subscription.deleted']);
      const listed = await api.request<{ items: { id: string }[] }>('GET', '/v1/subscriptions');
      expect(listed.body.items.map((s) => s.id)).toEqual([id]);
      await eventually(async () => {
        const keys = await api.request<{ items: { id: string }[] }>('GET', '/v1/api-keys');
        return keys.body.items.length === keysBefore.body.items.length ? true : undefined;
      }, 'the late API key to be deleted');
      // And Redis answering again, every request works again.
      expect((await api.request('GET', `/v1/subscriptions/${id}`)).status).toBe(200);
      expect((await api.request('GET', '/v1/subscriptions', { key: stalledKey })).status).toBe(200);

      // Gone: answered after the deadline (a change at once), nothing queued for when it returns.
      await redis.stop();
      const gone = await Promise.all([
        api.request('GET', `/v1/subscriptions/${id}`, guarded()),
        api.request('POST', '/v1/subscriptions', guarded({ body: webhook({ tenant: 'acme' }) })),
        api.request('GET', '/v1/subscriptions', guarded({ key: goneKey })),
      ]);
      expectRedisUnavailable(gone[0], 'a read');
      expectRedisUnavailable(gone[1], 'a creation');
      expectRedisUnavailable(gone[2], 'an API-key lookup');
      const ready = await api.request('GET', '/health/ready', guarded({ key: null }));
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ error: { redis: { status: 'down' } } });

      // The scrape goes on without the per-status counts, which it cannot read.
      const scrape = await api.request('GET', '/metrics', guarded({ key: null }));
      expect(scrape.status).toBe(200);
      expect(scrape.text).not.toMatch(/^herald_subscriptions\{/m);
      // Summed over the reasons (timeout while it hung, refused while it was gone).
      const counted = (operation: string) =>
        [
          ...scrape.text.matchAll(
            new RegExp(
              `^herald_subscription_api_redis_unavailable_total\\{[^}]*operation="${operation}"[^}]*\\} (\\d+)$`,
              'gm',
            ),
          ),
        ].reduce((sum, match) => sum + Number(match[1]), 0);
      expect([counted('read'), counted('write'), counted('authenticate')]).toEqual([2, 3, 2]);
    } finally {
      resume();
      await api.close();
      await redis.stop();
    }
  });
  it('refuses requests at once while Redis hangs, leaving a handful of commands queued rather than one a request, and serves again once Redis answers', async () => {
    const redis = await startRedisServer();
    const api = await startSubscriptionApi({
      env: { REDIS_URL: redis.url, SUBSCRIPTION_API_REDIS_TIMEOUT_MS: '500' },
      resolver: PUBLIC_RESOLVER,
    });
    const client = api.app.get(RedisConnection);
    const read = (id: string) =>
      api.request('GET', `/v1/subscriptions/${id}`, {
        signal: AbortSignal.timeout(NEVER_ANSWERED_MS),
      });
    try {
      const created = await api.request<{ id: string }>('POST', '/v1/subscriptions', {
        body: webhook({ tenant: 'acme' }),
      });
      expect(created.status).toBe(201);
      const { id } = created.body;

      process.kill(redis.pid, 'SIGSTOP');
      let first: ApiResponse;
      let flood: { statuses: number[]; ms: number; queued: number };
      try {
        // Sent to Redis, it misses its deadline.
        first = await read(id);
        const started = Date.now();
        const answers = await Promise.all(Array.from({ length: FLOOD }, () => read(id)));
        flood = {
          statuses: [...new Set(answers.map((a) => a.status))],
          ms: Date.now() - started,
          queued: queuedCommands(client),
        };
      } finally {
        process.kill(redis.pid, 'SIGCONT');
      }
      const resumed = Date.now();
      await eventually(
        async () => ((await read(id)).status === 200 ? true : undefined),
        'a read to be served again',
      );
      const servedAfterMs = Date.now() - resumed;
      console.info(
        `subscription-api, Redis hung: ${FLOOD} reads answered in ${flood.ms} ms, ${flood.queued} commands queued in the client; served again ${servedAfterMs} ms after SIGCONT`,
      );
      expectRedisUnavailable(first, 'the read sent to Redis');
      // The read that missed its deadline and the circuit's probe (the old code: one a request).
      expect(flood.queued).toBeLessThanOrEqual(5);
      expect(flood.statuses).toEqual([503]);
      expect(servedAfterMs).toBeLessThan(1000);

      const scrape = await api.request('GET', '/metrics', { key: null });
      const refused =
        /^herald_subscription_api_redis_unavailable_total\{[^}]*operation="read",reason="refused"[^}]*\} (\d+)$/m.exec(
          scrape.text,
        );
      expect(Number(refused?.[1])).toBeGreaterThanOrEqual(FLOOD);
    } finally {
      process.kill(redis.pid, 'SIGCONT');
      await api.close();
      await redis.stop();
    }
  });
});
