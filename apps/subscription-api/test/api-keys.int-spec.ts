import { ApiKeyNotices, parseApiKeyToken, type ApiKeyNotice } from '@herald/store';
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
});
