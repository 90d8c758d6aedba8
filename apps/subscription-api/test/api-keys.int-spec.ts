import {
  ApiKeyNotices,
  ApiKeyRepository,
  parseApiKeyToken,
  type ApiKeyNotice,
} from '@herald/store';
import { SERVICE } from '../src/app.module';
import { eventually, startSubscriptionApi, type TestApi } from './subscription-api.harness';

/** What other processes hear of an API key's deletion (fanout ends its streams on it). */
describe('subscription-api: API key deletion notices', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startSubscriptionApi();
  });
  afterAll(() => api.close());

  it('publishes a key’s deletion notice on DELETE /v1/api-keys/{id}, and none for a 404', async () => {
    const heard: ApiKeyNotice[] = [];
    const listener = new ApiKeyNotices(api.store.redis, api.store.keys).listen({
      onNotice: (notice) => heard.push(notice),
    });
    try {
      await listener.subscribed;
      const key = await api.createKey('tenant-r', ['streams:read']);
      const id = parseApiKeyToken(key)!.id;
      expect((await api.request('DELETE', `/v1/api-keys/${id}`)).status).toBe(204);
      await eventually(
        () => Promise.resolve(heard.length > 0 ? true : undefined),
        'the deletion notice',
      );
      expect((await api.request('DELETE', `/v1/api-keys/${id}`)).status).toBe(404);
      await new Promise((done) => setTimeout(done, 200));
      expect(heard).toEqual([{ kind: 'api_key.deleted', keyId: id, tenant: 'tenant-r' }]);
    } finally {
      await listener.close();
    }
  });

  it('refuses a key deleted through another instance at once, though its answer was cached here', async () => {
    // The app's own listening connection (named after the service and prefix) is subscribed.
    const name = `name=${SERVICE}:api-key-notices:${api.store.prefix}`;
    await eventually(
      async () =>
        ((await api.store.redis.client.client('LIST')) as string).includes(name) ? true : undefined,
      'the app listening for API key notices',
    );
    const key = await api.createKey('tenant-d', ['subscriptions:read']);
    // Answered from Redis once, then cached for 5 s.
    expect((await api.request('GET', '/v1/subscriptions', { key })).status).toBe(200);
    expect((await api.request('GET', '/v1/subscriptions', { key })).status).toBe(200);
    // As another subscription-api instance deletes it: the store's delete publishes the notice.
    const repository = new ApiKeyRepository(api.store.redis, api.store.keys);
    const deletedAt = Date.now();
    expect(await repository.delete(parseApiKeyToken(key)!.id)).toBe(true);
    await eventually(
      async () =>
        (await api.request('GET', '/v1/subscriptions', { key })).status === 401 ? true : undefined,
      'the deleted key refused',
      1000,
    );
    expect(Date.now() - deletedAt).toBeLessThan(1500);
  });
});
