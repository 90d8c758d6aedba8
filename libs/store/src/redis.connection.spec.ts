import { RedisConnection } from './redis.connection';
import { createTestStore } from './testing';

describe('RedisConnection', () => {
  it('answers ping on a real Redis and cleans up its prefix', async () => {
    const store = await createTestStore();
    await store.redis.ping();
    await store.redis.client.set(store.keys.apiKey('test'), '1');
    expect(await store.redis.client.get(store.keys.apiKey('test'))).toBe('1');
    await store.cleanup();
    const check = new RedisConnection({ url: store.url, prefix: 'x:' }, 'check');
    await check.connect();
    expect(await check.client.exists(store.keys.apiKey('test'))).toBe(0);
    await check.close();
  });

  it('fails its readiness probe at once while not connected', async () => {
    const redis = new RedisConnection({ url: 'redis://127.0.0.1:1', prefix: 'x:' }, 'down');
    await expect(redis.ping()).rejects.toThrow('redis connection is wait');
    await redis.close();
  });
});
