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

  it.each([
    // A host name goes in the TLS handshake (SNI), as proxies that route by it need.
    ['rediss://:pw@redis.example.internal:6380', true, 'redis.example.internal'],
    // Any letter case is TLS: ioredis alone would connect in the clear.
    ['REDISS://redis.example.internal:6380', true, 'redis.example.internal'],
    // SNI carries no IP address.
    ['rediss://127.0.0.1:6380', true, undefined],
    ['rediss://[::1]:6380', true, undefined],
    ['redis://redis.example.internal:6379', false, undefined],
  ])('connects to %s over TLS: %s, server name %s', async (url, overTls, servername) => {
    const redis = new RedisConnection({ url, prefix: 'x:' }, 'tls');
    const { tls } = redis.client.options;
    expect(Boolean(tls)).toBe(overTls);
    expect(typeof tls === 'object' ? tls.servername : undefined).toBe(servername);
    await redis.close();
  });
});
