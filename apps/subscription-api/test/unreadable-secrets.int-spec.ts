import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { startWebhookReceiver, type WebhookReceiver } from '@herald/delivery/testing';
import {
  SecretCipher,
  SubscriptionNotices,
  SubscriptionRepository,
  type StoredSubscription,
} from '@herald/store';
import { PUBLIC_RESOLVER, startSubscriptionApi, type TestApi } from './subscription-api.harness';

interface ProblemBody {
  status: number;
  code: string;
  detail: string;
  errors?: { pointer: string; message: string }[];
}

const webhook = (overrides: Record<string, unknown> = {}) => ({
  kind: 'webhook',
  url: 'https://hooks.example.com/herald',
  types: ['order.*'],
  ...overrides,
});

const CONFLICT = 'subscriptions.secrets_unreadable_conflict';

// A damaged dump restored: the sealed secrets of a subscription no longer open under the key they
// were sealed with. Written straight into Redis, as nothing in Herald would write them so.
describe('subscription-api: a subscription whose stored secrets do not open', () => {
  let api: TestApi;
  let tenant: string;
  let endpoint: WebhookReceiver;

  beforeAll(async () => {
    endpoint = await startWebhookReceiver();
    api = await startSubscriptionApi({
      env: { HERALD_ALLOWED_NETWORKS: '127.0.0.0/8' },
      resolver: PUBLIC_RESOLVER,
    });
    tenant = await api.createKey('tenant-a', ['subscriptions:read', 'subscriptions:write']);
  });
  afterAll(async () => {
    await api.close();
    await endpoint.close();
  });

  const recordKey = (id: string) => api.store.keys.subscription(id);
  const storedSealed = async (id: string) => api.store.redis.client.hget(recordKey(id), 'sealed');
  const version = async (id: string) =>
    Number(await api.store.redis.client.hget(recordKey(id), 'version'));

  /** Creates a webhook and truncates its sealed secrets; returns its id and the stored value. */
  async function corruptWebhook(
    overrides: Record<string, unknown> = {},
  ): Promise<{ id: string; sealed: string }> {
    const created = await api.request<{ id: string }>('POST', '/v1/subscriptions', {
      key: tenant,
      body: webhook(overrides),
    });
    expect(created.status).toBe(201);
    const { id } = created.body;
    const sealed = (await storedSealed(id))!.slice(0, -6);
    await api.store.redis.client.hset(recordKey(id), 'sealed', sealed);
    return { id, sealed };
  }

  async function metric(outcome: string): Promise<number> {
    const { text } = await api.request('GET', '/metrics', { key: null });
    const line = text
      .split('\n')
      .find((l) =>
        l.startsWith(`herald_subscription_api_unreadable_secrets_total{outcome="${outcome}"`),
      );
    return line === undefined ? 0 : Number(line.split(' ').pop());
  }

  it('takes PATCH, pause and resume, keeping the sealed value exactly as stored', async () => {
    const { id, sealed } = await corruptWebhook({ auth: { type: 'bearer', token: 'tok-1' } });
    const keptBefore = await metric('kept');
    const path = `/v1/subscriptions/${id}`;
    const answers = [
      await api.request('PATCH', path, {
        key: tenant,
        body: { description: 'still here', metadata: { owner: 'ops' } },
      }),
      await api.request('POST', `${path}/pause`, { key: tenant }),
      await api.request('POST', `${path}/resume`, { key: tenant }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.map((a) => a.body['status'])).toEqual(['active', 'paused', 'active']);
    const shown = await api.request('GET', path, { key: tenant });
    expect(shown.body).toMatchObject({
      description: 'still here',
      metadata: { owner: 'ops' },
      auth: { type: 'bearer' },
      version: 4,
    });
    expect(await storedSealed(id)).toBe(sealed);
    expect(await metric('kept')).toBe(keptBefore + 3);
  });

  it('answers a PATCH of auth 409, saying what to do, and changes nothing', async () => {
    const { id, sealed } = await corruptWebhook({ auth: { type: 'bearer', token: 'tok-1' } });
    const refusedBefore = await metric('refused');
    const patched = await api.request<ProblemBody>('PATCH', `/v1/subscriptions/${id}`, {
      key: tenant,
      body: { auth: { type: 'bearer', token: 'tok-2' }, description: 'with it' },
    });
    expect(patched.status).toBe(409);
    expect(patched.body.code).toBe(CONFLICT);
    expect(patched.body.detail).toContain(`stored secrets of subscription ${id} do not open`);
    expect(patched.body.detail).toContain(
      'POST /v1/subscriptions/{id}/secret/rotate with them in `auth`',
    );
    expect(patched.body.detail).not.toContain('delete');
    expect(await version(id)).toBe(1);
    expect(await storedSealed(id)).toBe(sealed);
    expect(await metric('refused')).toBe(refusedBefore + 1);
  });

  it('repairs one without endpoint auth by rotating: the new secret replaces them, no previous kept', async () => {
    const { id } = await corruptWebhook();
    const notices = api.app.get(SubscriptionNotices);
    const seqBefore = await notices.currentSeq();
    const replacedBefore = await metric('replaced');

    const rotated = await api.request<{ secret: string; previousSecretExpiresAt: string | null }>(
      'POST',
      `/v1/subscriptions/${id}/secret/rotate`,
      { key: tenant, body: { graceSeconds: 3600 } },
    );
    expect(rotated.status).toBe(200);
    expect(rotated.body.previousSecretExpiresAt).toBeNull();
    expect(rotated.body.secret).toMatch(/^whsec_/);

    const stored = await api.app.get(SubscriptionRepository).getWithSecrets(id);
    expect(stored?.secrets).toEqual({
      signing: { current: rotated.body.secret, previous: null },
      auth: null,
    });
    expect(stored?.subscription.version).toBe(2);
    // fanout re-reads it on this notice, as on any change.
    const { notices: published } = await notices.since(seqBefore);
    expect(published).toContainEqual(
      expect.objectContaining({ kind: 'subscription.updated', subscriptionId: id, version: 2 }),
    );
    expect(await metric('replaced')).toBe(replacedBefore + 1);

    // Readable again: what needs the secrets works.
    const patched = await api.request('PATCH', `/v1/subscriptions/${id}`, {
      key: tenant,
      body: { auth: { type: 'basic', username: 'u', password: 'p' } },
    });
    expect(patched.status).toBe(200);
    expect((await api.app.get(SubscriptionRepository).getWithSecrets(id))?.secrets).toEqual({
      signing: { current: rotated.body.secret, previous: null },
      auth: { type: 'basic', username: 'u', password: 'p' },
    });
  });

  it('tells a PATCH of auth on one without endpoint auth to rotate first', async () => {
    const { id } = await corruptWebhook();
    const patched = await api.request<ProblemBody>('PATCH', `/v1/subscriptions/${id}`, {
      key: tenant,
      body: { auth: { type: 'bearer', token: 'tok-2' } },
    });
    expect(patched.status).toBe(409);
    expect(patched.body.code).toBe(CONFLICT);
    expect(patched.body.detail).toContain('secret/rotate');
    // No auth for one that has none reads nothing: taken.
    const none = await api.request('PATCH', `/v1/subscriptions/${id}`, {
      key: tenant,
      body: { auth: null },
    });
    expect(none.status).toBe(200);
  });

  it('refuses to rotate away endpoint credentials it cannot recover (409), changing nothing', async () => {
    const { id, sealed } = await corruptWebhook({ auth: { type: 'bearer', token: 'tok-1' } });
    const rotated = await api.request<ProblemBody>(
      'POST',
      `/v1/subscriptions/${id}/secret/rotate`,
      {
        key: tenant,
        body: { graceSeconds: 0 },
      },
    );
    expect(rotated.status).toBe(409);
    expect(rotated.body.code).toBe(CONFLICT);
    expect(rotated.body.detail).toContain('endpoint credentials (bearer) cannot be recovered');
    expect(rotated.body.detail).toContain('send this rotation again with them in `auth`');
    expect(rotated.body.detail).not.toContain('delete');
    expect(await version(id)).toBe(1);
    expect(await storedSealed(id)).toBe(sealed);
  });

  it('refuses to rotate secrets sealed under another key: the key is what to fix', async () => {
    const created = await api.request<{ id: string }>('POST', '/v1/subscriptions', {
      key: tenant,
      body: webhook(),
    });
    const { id } = created.body;
    // Sealed as a process with another HERALD_SECRET_KEY would have (intact under that key).
    const secrets: StoredSubscription['secrets'] = {
      signing: { current: 'whsec_b3RoZXIta2V5LXNlY3JldA', previous: null },
      auth: null,
    };
    const foreign = new SecretCipher(randomBytes(32)).seal(JSON.stringify(secrets), id);
    await api.store.redis.client.hset(recordKey(id), 'sealed', foreign);
    const rotated = await api.request<ProblemBody>(
      'POST',
      `/v1/subscriptions/${id}/secret/rotate`,
      {
        key: tenant,
        body: { graceSeconds: 0 },
      },
    );
    expect(rotated.status).toBe(409);
    expect(rotated.body.code).toBe(CONFLICT);
    expect(rotated.body.detail).toContain('HERALD_SECRET_KEY');
    // Credentials sent along do not make it a repair: the value may open under the right key.
    for (const auth of [{ type: 'bearer', token: 'tok-2' }, null]) {
      const withAuth = await api.request<ProblemBody>(
        'POST',
        `/v1/subscriptions/${id}/secret/rotate`,
        { key: tenant, body: { graceSeconds: 0, auth } },
      );
      expect([withAuth.status, withAuth.body.code]).toEqual([409, CONFLICT]);
      expect(withAuth.body.detail).toContain('HERALD_SECRET_KEY');
      expect(withAuth.body.detail).not.toContain('rotate');
    }
    expect(await version(id)).toBe(1);
    // A test ping points at the key too, not at a rotate that would only be refused.
    const ping = await api.request<ProblemBody>('POST', `/v1/subscriptions/${id}/test`, {
      key: tenant,
    });
    expect(ping.status).toBe(409);
    expect(ping.body.detail).toContain('HERALD_SECRET_KEY');
    expect(ping.body.detail).not.toContain('rotate');
    expect(await storedSealed(id)).toBe(foreign);
  });

  it('repairs one with endpoint auth in place when the rotation sends its credentials again', async () => {
    const { id } = await corruptWebhook({
      url: endpoint.url,
      auth: { type: 'bearer', token: 'tok-1' },
    });
    const notices = api.app.get(SubscriptionNotices);
    const seqBefore = await notices.currentSeq();
    const replacedBefore = await metric('replaced');
    const path = `/v1/subscriptions/${id}`;

    const rotated = await api.request<{ secret: string; previousSecretExpiresAt: string | null }>(
      'POST',
      `${path}/secret/rotate`,
      { key: tenant, body: { graceSeconds: 3600, auth: { type: 'bearer', token: 'tok-2' } } },
    );
    expect(rotated.status).toBe(200);
    expect(rotated.body.previousSecretExpiresAt).toBeNull();
    expect((await api.app.get(SubscriptionRepository).getWithSecrets(id))?.secrets).toEqual({
      signing: { current: rotated.body.secret, previous: null },
      auth: { type: 'bearer', token: 'tok-2' },
    });
    const { notices: published } = await notices.since(seqBefore);
    expect(published).toContainEqual(
      expect.objectContaining({ kind: 'subscription.updated', subscriptionId: id, version: 2 }),
    );
    expect(await metric('replaced')).toBe(replacedBefore + 1);

    // Readable again: a PATCH of auth and a test ping work, signed and sent with the new ones.
    const patched = await api.request('PATCH', path, {
      key: tenant,
      body: { auth: { type: 'basic', username: 'u', password: 'p' } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body['auth']).toEqual({ type: 'basic' });
    const receivedBefore = endpoint.received.length;
    const ping = await api.request('POST', `${path}/test`, { key: tenant });
    expect(ping.status).toBe(200);
    const request = (await endpoint.waitFor(receivedBefore + 1))[receivedBefore]!;
    expect(request.headers['authorization']).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(() =>
      new Webhook(rotated.body.secret).verify(request.body, {
        'webhook-id': String(request.headers['webhook-id']),
        'webhook-timestamp': String(request.headers['webhook-timestamp']),
        'webhook-signature': String(request.headers['webhook-signature']),
      }),
    ).not.toThrow();
  });

  it('repairs one with endpoint auth by a rotation with auth null, which drops the credentials', async () => {
    const { id } = await corruptWebhook({ auth: { type: 'basic', username: 'u', password: 'p' } });
    const rotated = await api.request<{ secret: string }>(
      'POST',
      `/v1/subscriptions/${id}/secret/rotate`,
      { key: tenant, body: { auth: null } },
    );
    expect(rotated.status).toBe(200);
    expect((await api.app.get(SubscriptionRepository).getWithSecrets(id))?.secrets).toEqual({
      signing: { current: rotated.body.secret, previous: null },
      auth: null,
    });
    const shown = await api.request('GET', `/v1/subscriptions/${id}`, { key: tenant });
    expect(shown.body).toMatchObject({ auth: null, version: 2 });
  });

  it('answers a rotation with bad auth 400 at its pointer, as PATCH does, and changes nothing', async () => {
    const readable = await api.request<{ id: string }>('POST', '/v1/subscriptions', {
      key: tenant,
      body: webhook({ auth: { type: 'bearer', token: 'tok-1' } }),
    });
    const corrupt = await corruptWebhook({ auth: { type: 'bearer', token: 'tok-1' } });
    const bad = [
      [{ type: 'bearer', token: 'two words' }, '/auth/token'],
      [{ type: 'basic', username: 'a:b', password: 'p' }, '/auth/username'],
      [{ type: 'bearer', token: 'tok-2', scheme: 'x' }, '/auth/scheme'],
      [{ type: 'digest' }, '/auth/type'],
    ] as const;
    for (const id of [readable.body.id, corrupt.id]) {
      const sealed = await storedSealed(id);
      for (const [auth, pointer] of bad) {
        const rotated = await api.request<ProblemBody>(
          'POST',
          `/v1/subscriptions/${id}/secret/rotate`,
          { key: tenant, body: { graceSeconds: 0, auth } },
        );
        const patched = await api.request<ProblemBody>('PATCH', `/v1/subscriptions/${id}`, {
          key: tenant,
          body: { auth },
        });
        expect([rotated.status, rotated.body.code]).toEqual([400, 'subscriptions.invalid']);
        expect(rotated.body.errors?.map((e) => e.pointer)).toEqual([pointer]);
        expect(rotated.body.errors).toEqual(patched.body.errors);
      }
      // Unknown fields are still refused.
      const unknown = await api.request<ProblemBody>(
        'POST',
        `/v1/subscriptions/${id}/secret/rotate`,
        { key: tenant, body: { graceSeconds: 0, secret: 'whsec_mine' } },
      );
      expect(unknown.status).toBe(400);
      expect(unknown.body.errors).toEqual([
        { pointer: '/secret', message: 'is not a known field' },
      ]);
      expect(await version(id)).toBe(1);
      expect(await storedSealed(id)).toBe(sealed);
    }
  });

  it('answers a test ping 409 rather than 500', async () => {
    const { id } = await corruptWebhook();
    const ping = await api.request<ProblemBody>('POST', `/v1/subscriptions/${id}/test`, {
      key: tenant,
    });
    expect(ping.status).toBe(409);
    expect(ping.body.code).toBe(CONFLICT);
  });

  it('documents the 409 on PATCH and rotate, and the auth a rotation takes, in the OpenAPI document', async () => {
    interface Operation {
      description?: string;
      requestBody?: {
        content: Record<string, { schema: { properties?: Record<string, { oneOf?: unknown }> } }>;
      };
    }
    const openapi = await api.request<{ paths: Record<string, Record<string, Operation>> }>(
      'GET',
      '/openapi.json',
      { key: null },
    );
    for (const [path, method] of [
      ['/v1/subscriptions/{id}', 'patch'],
      ['/v1/subscriptions/{id}/secret/rotate', 'post'],
    ] as const)
      expect(openapi.body.paths[path]?.[method]?.description).toContain(CONFLICT);
    const rotate = openapi.body.paths['/v1/subscriptions/{id}/secret/rotate']?.['post'];
    expect(rotate?.description).toContain('sends its credentials again in `auth`');
    const bodyOf = (operation: Operation | undefined) =>
      operation?.requestBody?.content['application/json']?.schema.properties;
    const patchAuth = bodyOf(openapi.body.paths['/v1/subscriptions/{id}']?.['patch'])?.['auth'];
    expect(patchAuth?.oneOf).toBeDefined();
    expect(bodyOf(rotate)?.['auth']).toMatchObject({ nullable: true, oneOf: patchAuth?.oneOf });
  });
});
