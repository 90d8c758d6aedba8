import { ApiKeyRepository } from '@herald/store';
import { createTestStore } from '@herald/store/testing';
import { Authenticator } from './authenticator';

describe('Authenticator (real Redis)', () => {
  let store: Awaited<ReturnType<typeof createTestStore>>;
  let keys: ApiKeyRepository;

  beforeAll(async () => {
    store = await createTestStore();
    keys = new ApiKeyRepository(store.redis, store.keys);
  });
  afterAll(() => store.cleanup());

  const newKey = () =>
    keys.create({ name: 'k', tenant: 'acme', scopes: [{ scope: 'streams:read', types: null }] });

  it('answers from its cache, and forgets one stored key’s answers or all of them', async () => {
    const authenticator = new Authenticator(keys, { adminKey: null }, 60_000);
    const a = await newKey();
    const b = await newKey();
    const c = await newKey();
    for (const { key } of [a, b, c])
      expect((await authenticator.authenticate(key))?.keyId).toBe(key.split('_')[1]);
    for (const { record } of [a, b, c]) await keys.delete(record.id);
    // Cached: still answered, without Redis.
    expect(authenticator.answersWithoutRedis(a.key)).toBe(true);

    authenticator.forget(a.record.id);
    expect(await authenticator.authenticate(a.key)).toBeNull();
    expect((await authenticator.authenticate(b.key))?.keyId).toBe(b.record.id);

    authenticator.forget();
    expect(await authenticator.authenticate(b.key)).toBeNull();
    expect(await authenticator.authenticate(c.key)).toBeNull();
  });
});
