import { Webhook } from 'standardwebhooks';
import { SubscriptionRepository } from '@herald/store';
import {
  startWebhookReceiver,
  type WebhookReceiver,
  type WebhookResponder,
} from '@herald/delivery/testing';
import {
  PUBLIC_RESOLVER,
  eventually,
  startSubscriptionApi,
  type TestApi,
} from './subscription-api.harness';

interface SubscriptionBody {
  id: string;
  status: string;
  secret: string | null;
  statusReason: string | null;
  verification: { mode: string; state: string; failure: string | null; checkedAt: string | null };
  createdAt: string;
}

const websubEcho: WebhookResponder = (request) => {
  const challenge = new URL(request.path, 'http://receiver').searchParams.get('hub.challenge');
  return { status: 200, headers: { 'content-type': 'text/plain' }, body: challenge ?? '' };
};

const cloudEventsAllow: WebhookResponder = (request) =>
  request.method === 'OPTIONS'
    ? { status: 200, headers: { 'webhook-allowed-origin': 'herald', allow: 'POST' } }
    : { status: 204 };

/** Verifies one delivered request with the standardwebhooks package; false when it throws. */
function verifies(secret: string, request: WebhookReceiver['received'][number]): boolean {
  try {
    new Webhook(secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    });
    return true;
  } catch {
    return false;
  }
}

describe('subscription-api: talking to webhook endpoints', () => {
  let api: TestApi;
  let key: string;
  const receivers: WebhookReceiver[] = [];

  async function receiver(respond: WebhookResponder): Promise<WebhookReceiver> {
    const started = await startWebhookReceiver({ respond });
    receivers.push(started);
    return started;
  }

  async function create(body: Record<string, unknown>): Promise<SubscriptionBody> {
    const created = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', { key, body });
    if (created.status !== 201) throw new Error(`create failed: ${created.text}`);
    return created.body;
  }

  async function settled(id: string): Promise<SubscriptionBody> {
    return eventually(async () => {
      const read = await api.request<SubscriptionBody>('GET', `/v1/subscriptions/${id}`, { key });
      return read.body.verification.state === 'pending' ? undefined : read.body;
    }, `the ownership check of ${id}`);
  }

  beforeAll(async () => {
    api = await startSubscriptionApi({
      env: { HERALD_ALLOWED_NETWORKS: '127.0.0.0/8' },
      resolver: PUBLIC_RESOLVER,
    });
    key = await api.createKey('tenant-w', ['subscriptions:read', 'subscriptions:write']);
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await api.close();
  });

  describe('websub verification', () => {
    it('activates the subscription once the challenge is echoed', async () => {
      const endpoint = await receiver(websubEcho);
      const created = await create({
        url: `${endpoint.url}/hook?existing=1`,
        types: ['order.*'],
        verification: 'websub',
      });
      expect(created.status).toBe('pending');
      const done = await settled(created.id);
      expect(done).toMatchObject({
        status: 'active',
        verification: { mode: 'websub', state: 'passed' },
      });
      const [check] = endpoint.received;
      expect(check?.method).toBe('GET');
      const query = new URL(check!.path, 'http://receiver').searchParams;
      expect(query.get('existing')).toBe('1');
      expect(query.get('hub.mode')).toBe('subscribe');
      expect(query.get('hub.topic')).toBe('order.*');
      expect(query.get('hub.challenge')?.length).toBeGreaterThanOrEqual(20);
    });

    it('stays pending with the reason when the echo is wrong, and passes after a fix and resume', async () => {
      const endpoint = await receiver(() => ({ status: 200, body: 'not-the-challenge' }));
      const created = await create({
        url: endpoint.url,
        types: ['order.*'],
        verification: 'websub',
      });
      const failed = await settled(created.id);
      expect(failed.status).toBe('pending');
      expect(failed.verification).toMatchObject({
        state: 'failed',
        failure: expect.stringContaining('hub.challenge') as string,
      });
      expect(failed.statusReason).toContain('ownership check failed');
      const ping = await api.request('POST', `/v1/subscriptions/${created.id}/test`, { key });
      expect(ping.status).toBe(409);

      endpoint.respondWith(websubEcho);
      const resumed = await api.request<SubscriptionBody>(
        'POST',
        `/v1/subscriptions/${created.id}/resume`,
        { key },
      );
      expect(resumed.body.status).toBe('pending');
      expect(await settled(created.id)).toMatchObject({
        status: 'active',
        verification: { state: 'passed' },
      });
    });

    it('fails with a timeout when the endpoint does not answer', async () => {
      const endpoint = await receiver(() => 'hang');
      const created = await create({
        url: endpoint.url,
        types: ['order.*'],
        verification: 'websub',
      });
      const failed = await settled(created.id);
      expect(failed.status).toBe('pending');
      expect(failed.verification.failure).toBe('the endpoint did not answer within 1500 ms');
    });
  });

  describe('cloudevents verification', () => {
    it('activates the subscription when the OPTIONS handshake allows Herald', async () => {
      const endpoint = await receiver(cloudEventsAllow);
      const created = await create({
        url: endpoint.url,
        types: ['order.*'],
        verification: 'cloudevents',
      });
      expect(await settled(created.id)).toMatchObject({
        status: 'active',
        verification: { state: 'passed' },
      });
      expect(endpoint.received[0]?.method).toBe('OPTIONS');
      expect(endpoint.received[0]?.headers['webhook-request-origin']).toBe('herald');
    });

    it('stays pending when WebHook-Allowed-Origin is missing or names someone else', async () => {
      const answers: Record<string, string>[] = [{}, { 'webhook-allowed-origin': 'other.example' }];
      for (const headers of answers) {
        const endpoint = await receiver(() => ({ status: 200, headers }));
        const created = await create({
          url: endpoint.url,
          types: ['order.*'],
          verification: 'cloudevents',
        });
        const failed = await settled(created.id);
        expect(failed.status).toBe('pending');
        expect(failed.verification.failure).toContain('WebHook-Allowed-Origin: herald');
      }
    });

    it('fails with a timeout when the endpoint does not answer', async () => {
      const endpoint = await receiver(() => 'hang');
      const created = await create({
        url: endpoint.url,
        types: ['order.*'],
        verification: 'cloudevents',
      });
      expect((await settled(created.id)).verification.failure).toBe(
        'the endpoint did not answer within 1500 ms',
      );
    });

    it('checks again when the URL changes', async () => {
      const first = await receiver(cloudEventsAllow);
      const created = await create({
        url: first.url,
        types: ['order.*'],
        verification: 'cloudevents',
      });
      await settled(created.id);
      const second = await receiver(() => ({ status: 403 }));
      const patched = await api.request<SubscriptionBody>(
        'PATCH',
        `/v1/subscriptions/${created.id}`,
        {
          key,
          body: { url: `${second.url}/new` },
        },
      );
      expect(patched.body.status).toBe('pending');
      const failed = await settled(created.id);
      expect(failed.verification.failure).toBe(
        'the endpoint answered the CloudEvents handshake with 403',
      );
    });
  });

  describe('backfill of a webhook that starts before its creation', () => {
    interface ReplayBody {
      from: { time?: string };
      to: { time?: string } | null;
      status: string;
    }
    const replays = async (id: string) =>
      (
        await api.request<{ items: ReplayBody[] }>('GET', `/v1/subscriptions/${id}/replays`, {
          key,
        })
      ).body.items;

    it('asks for one replay from its start to its creation once it is active, and only once', async () => {
      const endpoint = await receiver(cloudEventsAllow);
      const from = '2025-01-01T00:00:00.000Z';
      const created = await create({
        url: endpoint.url,
        types: ['order.*'],
        verification: 'cloudevents',
        from,
      });
      // Pending: nothing is asked for a subscription that may not get events yet.
      expect(await replays(created.id)).toEqual([]);
      const active = await settled(created.id);
      expect(active.status).toBe('active');
      const [backfill, ...others] = await eventually(async () => {
        const listed = await replays(created.id);
        return listed.length > 0 ? listed : undefined;
      }, 'the backfill');
      expect(others).toEqual([]);
      expect(backfill).toMatchObject({ from: { time: from }, to: { time: created.createdAt } });
      // A new URL passes a new check: the backfill is not asked for again.
      await api.request('PATCH', `/v1/subscriptions/${created.id}`, {
        key,
        body: { url: `${endpoint.url}/moved` },
      });
      expect((await settled(created.id)).status).toBe('active');
      // A second backfill would be asked just after the check is recorded: give it the time.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await replays(created.id)).toHaveLength(1);
    });

    it('asks for none from `latest` or from a start still to come', async () => {
      const endpoint = await receiver(() => ({ status: 204 }));
      const latest = await create({ url: endpoint.url, types: ['order.*'] });
      const future = await create({
        url: endpoint.url,
        types: ['order.*'],
        from: '2999-01-01T00:00:00.000Z',
      });
      const earliest = await create({ url: endpoint.url, types: ['order.*'], from: 'earliest' });
      expect(await replays(latest.id)).toEqual([]);
      expect(await replays(future.id)).toEqual([]);
      expect(await replays(earliest.id)).toMatchObject([
        { from: { time: '1970-01-01T00:00:00.000Z' }, to: { time: earliest.createdAt } },
      ]);
    });
  });

  it('sends a signed herald.ping and records it in the delivery log', async () => {
    const endpoint = await receiver(() => ({ status: 202, body: 'thanks' }));
    const created = await create({
      url: `${endpoint.url}/events`,
      types: ['order.*'],
      format: 'standard',
      headers: { 'x-partner': 'p1' },
      auth: { type: 'basic', username: 'herald', password: 's3cret' },
    });
    const ping = await api.request<{ delivered: boolean; statusCode: number; eventId: string }>(
      'POST',
      `/v1/subscriptions/${created.id}/test`,
      { key },
    );
    expect(ping.status).toBe(200);
    expect(ping.body).toMatchObject({ delivered: true, statusCode: 202 });
    const [request] = await endpoint.waitFor(1);
    expect(request!.path).toBe('/events');
    expect(request!.headers['webhook-id']).toBe(ping.body.eventId);
    expect(request!.headers['x-partner']).toBe('p1');
    expect(request!.headers['authorization']).toBe(
      `Basic ${Buffer.from('herald:s3cret').toString('base64')}`,
    );
    expect(request!.headers['user-agent']).toBe('Herald/0.1.0');
    expect(JSON.parse(request!.body)).toMatchObject({
      type: 'herald.ping',
      data: { subscriptionId: created.id, tenant: 'tenant-w' },
    });
    expect(verifies(created.secret!, request!)).toBe(true);
    const log = await api.request<{ items: Record<string, unknown>[] }>(
      'GET',
      `/v1/subscriptions/${created.id}/deliveries`,
      { key },
    );
    expect(log.body.items).toEqual([
      expect.objectContaining({
        eventId: ping.body.eventId,
        status: 'succeeded',
        statusCode: 202,
        responseBody: 'thanks',
        test: true,
      }),
    ]);

    endpoint.respondWith(() => ({ status: 500, body: 'down' }));
    const failed = await api.request('POST', `/v1/subscriptions/${created.id}/test`, { key });
    expect(failed.body).toMatchObject({
      delivered: false,
      statusCode: 500,
      error: 'the endpoint answered 500',
    });
  });

  it('signs with both secrets after a rotation until the grace ends', async () => {
    const endpoint = await receiver(() => ({ status: 204 }));
    const created = await create({ url: endpoint.url, types: ['order.*'] });
    const oldSecret = created.secret!;
    const rotated = await api.request<{ secret: string; previousSecretExpiresAt: string }>(
      'POST',
      `/v1/subscriptions/${created.id}/secret/rotate`,
      { key, body: { graceSeconds: 2 } },
    );
    expect(rotated.status).toBe(200);
    const newSecret = rotated.body.secret;
    expect(newSecret).not.toBe(oldSecret);
    expect(Date.parse(rotated.body.previousSecretExpiresAt)).toBeGreaterThan(Date.now());

    await api.request('POST', `/v1/subscriptions/${created.id}/test`, { key });
    const [during] = await endpoint.waitFor(1);
    expect(String(during!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifies(newSecret, during!)).toBe(true);
    expect(verifies(oldSecret, during!)).toBe(true);

    const after = await eventually(async () => {
      await api.request('POST', `/v1/subscriptions/${created.id}/test`, { key });
      const latest = endpoint.received[endpoint.received.length - 1]!;
      return verifies(oldSecret, latest) ? undefined : latest;
    }, 'the grace period to end');
    expect(verifies(newSecret, after)).toBe(true);
    expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);

    const immediate = await api.request<{ secret: string; previousSecretExpiresAt: null }>(
      'POST',
      `/v1/subscriptions/${created.id}/secret/rotate`,
      { key, body: { graceSeconds: 0 } },
    );
    expect(immediate.body.previousSecretExpiresAt).toBeNull();
    expect(
      (
        await api.request('POST', `/v1/subscriptions/${created.id}/secret/rotate`, {
          key,
          body: { graceSeconds: -1 },
        })
      ).status,
    ).toBe(400);
  });

  it('replaces the endpoint credentials along with the signing secret, the old secret signing on through its grace', async () => {
    const endpoint = await receiver(() => ({ status: 204 }));
    const created = await create({
      url: endpoint.url,
      types: ['order.*'],
      auth: { type: 'bearer', token: 'old-token' },
    });
    const path = `/v1/subscriptions/${created.id}`;
    const auth = { type: 'basic', username: 'herald', password: 'n3w-pass' };
    const rotated = await api.request<{ secret: string; previousSecretExpiresAt: string }>(
      'POST',
      `${path}/secret/rotate`,
      { key, body: { graceSeconds: 3600, auth } },
    );
    expect(rotated.status).toBe(200);

    // One change: the record shows the new auth type at the next version.
    const shown = await api.request('GET', path, { key });
    expect(shown.body).toMatchObject({ auth: { type: 'basic' }, version: 2 });
    const stored = await api.app.get(SubscriptionRepository).getWithSecrets(created.id);
    expect(stored?.secrets).toEqual({
      signing: {
        current: rotated.body.secret,
        previous: { secret: created.secret, expiresAt: rotated.body.previousSecretExpiresAt },
      },
      auth,
    });

    const ping = await api.request('POST', `${path}/test`, { key });
    expect(ping.status).toBe(200);
    const [during] = await endpoint.waitFor(1);
    expect(during!.headers['authorization']).toBe(
      `Basic ${Buffer.from('herald:n3w-pass').toString('base64')}`,
    );
    expect(verifies(rotated.body.secret, during!)).toBe(true);
    expect(verifies(created.secret!, during!)).toBe(true);
  });

  it('removes the endpoint credentials on a rotation with auth null, and keeps them without auth', async () => {
    const endpoint = await receiver(() => ({ status: 204 }));
    const created = await create({
      url: endpoint.url,
      types: ['order.*'],
      auth: { type: 'bearer', token: 'kept-token' },
    });
    const path = `/v1/subscriptions/${created.id}`;
    const rotate = (body: Record<string, unknown>) =>
      api.request<{ secret: string }>('POST', `${path}/secret/rotate`, { key, body });

    const kept = await rotate({ graceSeconds: 0 });
    expect(kept.status).toBe(200);
    await api.request('POST', `${path}/test`, { key });
    const [first] = await endpoint.waitFor(1);
    expect(first!.headers['authorization']).toBe('Bearer kept-token');

    const removed = await rotate({ graceSeconds: 0, auth: null });
    expect(removed.status).toBe(200);
    expect((await api.request('GET', path, { key })).body).toMatchObject({ auth: null });
    await api.request('POST', `${path}/test`, { key });
    const [, second] = await endpoint.waitFor(2);
    expect(second!.headers['authorization']).toBeUndefined();
    expect(verifies(removed.body.secret, second!)).toBe(true);
  });

  describe('TMF688 hub', () => {
    it('registers, reads and removes a listener in tmf688 format', async () => {
      const endpoint = await receiver(() => ({ status: 201 }));
      const created = await api.request<{ id: string; callback: string; query: string }>(
        'POST',
        '/tmf-api/event/v4/hub',
        {
          key,
          body: {
            callback: `${endpoint.url}/listener`,
            query: 'eventType=OrderCreateEvent,ShipmentDispatchedEvent',
          },
        },
      );
      expect(created.status).toBe(201);
      expect(created.headers.get('location')).toBe(`/tmf-api/event/v4/hub/${created.body.id}`);
      expect(created.body).toMatchObject({
        callback: `${endpoint.url}/listener`,
        query: 'eventType=OrderCreateEvent,ShipmentDispatchedEvent',
      });
      const underneath = await api.request<{ format: string; types: string[] }>(
        'GET',
        `/v1/subscriptions/${created.body.id}`,
        { key },
      );
      expect(underneath.body).toMatchObject({
        format: 'tmf688',
        types: ['order.created', 'shipment.dispatched'],
      });
      const read = await api.request('GET', `/tmf-api/event/v4/hub/${created.body.id}`, { key });
      expect(read.body).toMatchObject({ id: created.body.id, query: created.body.query });

      const ping = await api.request('POST', `/v1/subscriptions/${created.body.id}/test`, { key });
      expect(ping.body).toMatchObject({ delivered: true });
      expect(JSON.parse(endpoint.received[0]!.body)).toMatchObject({
        eventType: 'HeraldPingEvent',
      });

      expect(
        (await api.request('DELETE', `/tmf-api/event/v4/hub/${created.body.id}`, { key })).status,
      ).toBe(204);
      expect(
        (await api.request('GET', `/tmf-api/event/v4/hub/${created.body.id}`, { key })).status,
      ).toBe(404);
    });

    it('refuses unknown event names, other query fields and refused callbacks', async () => {
      for (const [body, status] of [
        [{ callback: 'https://hooks.example.com/x', query: 'eventType=InvoicePaidEvent' }, 422],
        [
          {
            callback: 'https://hooks.example.com/x',
            query: 'eventType=OrderCreateEvent&state=open',
          },
          422,
        ],
        [{ callback: 'http://10.0.0.1/x', query: 'eventType=OrderCreateEvent' }, 422],
        [{ query: 'eventType=OrderCreateEvent' }, 400],
        [{ callback: 'https://hooks.example.com/x', extra: true }, 400],
      ] as const) {
        const response = await api.request('POST', '/tmf-api/event/v4/hub', { key, body });
        expect([body, response.status]).toEqual([body, status]);
      }
    });

    it('points its problems at the hub fields sent (callback, query), not the subscription underneath', async () => {
      const orderOnly = await api.createKey('tenant-w', [
        'subscriptions:read',
        'subscriptions:write:order.*',
      ]);
      for (const [body, status, pointer, caller] of [
        [{ callback: 'http://10.0.0.1/x', query: 'eventType=OrderCreateEvent' }, 422, '/callback'],
        [{ callback: 'gopher://hooks.example.com/x' }, 422, '/callback'],
        [
          { callback: 'https://hooks.example.com/x', query: 'eventType=PaymentCapturedEvent' },
          403,
          '/query',
          orderOnly,
        ],
      ] as const) {
        const response = await api.request<{ errors?: { pointer: string }[] }>(
          'POST',
          '/tmf-api/event/v4/hub',
          { key: caller ?? key, body },
        );
        expect([body, response.status, response.body.errors?.map((e) => e.pointer)]).toEqual([
          body,
          status,
          [pointer],
        ]);
      }
    });

    it('registers a listener without a query for every type its key may subscribe to', async () => {
      const orderOnly = await api.createKey('tenant-w', [
        'subscriptions:read',
        'subscriptions:write:order.*',
      ]);
      const created = await api.request<{ id: string }>('POST', '/tmf-api/event/v4/hub', {
        key: orderOnly,
        body: { callback: 'https://hooks.example.com/all-mine' },
      });
      expect(created.status).toBe(201);
      const underneath = await api.request<{ types: string[] }>(
        'GET',
        `/v1/subscriptions/${created.body.id}`,
        { key: orderOnly },
      );
      expect(underneath.body.types).toEqual(['order.*']);
    });

    it('answers only for hub listeners: another subscription is neither read nor removed there', async () => {
      const others = [
        { kind: 'stream', types: ['order.*'] },
        { kind: 'webhook', url: 'https://hooks.example.com/ce', types: ['order.*'] },
        {
          kind: 'webhook',
          url: 'https://hooks.example.com/std',
          types: ['order.*'],
          format: 'standard',
        },
      ];
      for (const body of others) {
        const created = await api.request<{ id: string }>('POST', '/v1/subscriptions', {
          key,
          body,
        });
        expect(created.status).toBe(201);
        const hubPath = `/tmf-api/event/v4/hub/${created.body.id}`;
        const read = await api.request<{ code: string }>('GET', hubPath, { key });
        const removed = await api.request<{ code: string }>('DELETE', hubPath, { key });
        expect([body, read.status, read.body.code, removed.status]).toEqual([
          body,
          404,
          'store.subscription.not_found',
          404,
        ]);
        const still = await api.request('GET', `/v1/subscriptions/${created.body.id}`, { key });
        expect([body, still.status]).toEqual([body, 200]);
      }
    });
  });
});

describe('subscription-api: HERALD_DEFAULT_VERIFICATION', () => {
  let api: TestApi;
  let key: string;
  let endpoint: WebhookReceiver;

  beforeAll(async () => {
    api = await startSubscriptionApi({
      env: { HERALD_ALLOWED_NETWORKS: '127.0.0.0/8', HERALD_DEFAULT_VERIFICATION: 'websub' },
      resolver: PUBLIC_RESOLVER,
    });
    key = await api.createKey('tenant-v', ['subscriptions:read', 'subscriptions:write']);
    endpoint = await startWebhookReceiver({ respond: websubEcho });
  });
  afterAll(async () => {
    await endpoint.close();
    await api.close();
  });

  it('checks a webhook that names no verification as the deployment says, and not one that opts out', async () => {
    const implicit = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key,
      body: { url: `${endpoint.url}/implicit`, types: ['order.*'] },
    });
    expect(implicit.status).toBe(201);
    expect(implicit.body).toMatchObject({
      status: 'pending',
      verification: { mode: 'websub', state: 'pending' },
    });
    const done = await eventually(async () => {
      const read = await api.request<SubscriptionBody>(
        'GET',
        `/v1/subscriptions/${implicit.body.id}`,
        { key },
      );
      return read.body.status === 'active' ? read.body : undefined;
    }, 'the default websub check to pass');
    expect(done.verification).toMatchObject({ mode: 'websub', state: 'passed' });
    expect(endpoint.received.map((r) => new URL(r.path, 'http://x').pathname)).toEqual([
      '/implicit',
    ]);

    const explicit = await api.request<SubscriptionBody>('POST', '/v1/subscriptions', {
      key,
      body: { url: `${endpoint.url}/explicit`, types: ['order.*'], verification: 'none' },
    });
    expect(explicit.body).toMatchObject({ status: 'active', verification: { mode: 'none' } });
    expect(endpoint.received).toHaveLength(1);
  });
});
