import { randomUUID } from 'node:crypto';
import { ApiKeyNotices, parseApiKeyNotice, type ApiKeyNotice } from './api-key-notices';
import { ApiKeyRepository } from './api-key.repository';
import { createTestStore } from './testing';

async function waitFor(check: () => boolean, { what = 'condition' } = {}): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 10));
  }
}

describe('ApiKeyNotices (real Redis)', () => {
  let store: Awaited<ReturnType<typeof createTestStore>>;
  let repository: ApiKeyRepository;
  let notices: ApiKeyNotices;

  beforeAll(async () => {
    store = await createTestStore();
    repository = new ApiKeyRepository(store.redis, store.keys);
    notices = new ApiKeyNotices(store.redis, store.keys);
  });
  afterAll(() => store.cleanup());

  const newKey = (tenant = 'acme') =>
    repository.create({ name: 'n', tenant, scopes: [{ scope: 'streams:read', types: null }] });

  it('hears the notice a key’s delete publishes, and none for a delete that deleted nothing', async () => {
    const heard: ApiKeyNotice[] = [];
    const listener = notices.listen({ onNotice: (notice) => heard.push(notice) });
    try {
      await listener.subscribed;
      const { record } = await newKey('tenant-n');
      expect(await repository.delete(record.id, 'someone-else')).toBe(false);
      expect(await repository.delete(record.id)).toBe(true);
      expect(await repository.delete(record.id)).toBe(false);
      await waitFor(() => heard.length >= 1);
      await new Promise((done) => setTimeout(done, 100));
      expect(heard).toEqual([{ kind: 'api_key.deleted', keyId: record.id, tenant: 'tenant-n' }]);
    } finally {
      await listener.close();
    }
  });

  it('after its connection drops, subscribes again and asks its caller to check what it holds', async () => {
    const name = `api-key-notices-test-${randomUUID().slice(0, 8)}`;
    const heard: string[] = [];
    let reconnects = 0;
    const listener = notices.listen({
      onNotice: ({ keyId }) => heard.push(keyId),
      onReconnect: () => (reconnects += 1),
      connectionName: name,
    });
    try {
      await listener.subscribed;
      expect(reconnects).toBe(0);
      const clients = (await store.redis.client.client('LIST')) as string;
      const id = /id=(\d+) .*name=(\S+)/
        .exec(clients.split('\n').find((line) => line.includes(`name=${name} `)) ?? '')
        ?.at(1);
      expect(id).toBeDefined();
      await store.redis.client.client('KILL', 'ID', id!);
      await waitFor(() => reconnects === 1, { what: 'the reconnect callback' });
      // Subscribed again by the time it is told: a delete from here on is heard.
      const { record } = await newKey();
      await repository.delete(record.id);
      await waitFor(() => heard.includes(record.id), { what: 'the notice after the reconnect' });
    } finally {
      await listener.close();
    }
  });

  it('ignores messages that are no notice of a kind it knows', () => {
    expect(parseApiKeyNotice('{"kind":"api_key.deleted","keyId":"a","tenant":"t"}')).toEqual({
      kind: 'api_key.deleted',
      keyId: 'a',
      tenant: 't',
    });
    expect(parseApiKeyNotice('{"kind":"api_key.renamed","keyId":"a","tenant":"t"}')).toBeNull();
    expect(parseApiKeyNotice('{"kind":"api_key.deleted","keyId":1}')).toBeNull();
    expect(parseApiKeyNotice('not json')).toBeNull();
  });
});
