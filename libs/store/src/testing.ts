import { randomUUID } from 'node:crypto';
import { RedisConnection } from './redis.connection';
import { storeKeys } from './store.keys';

/**
 * A Redis connection under a fresh key prefix for one test file, at REDIS_URL (the Jest global
 * setup makes sure one answers). `cleanup()` deletes every key under the prefix and disconnects.
 */
export async function createTestStore(env: Record<string, string | undefined> = process.env) {
  const url = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `test:${randomUUID().slice(0, 8)}:`;
  const redis = new RedisConnection({ url, prefix }, 'herald-test');
  await redis.connect();
  return {
    url,
    prefix,
    redis,
    keys: storeKeys(prefix),
    async cleanup(): Promise<void> {
      let cursor = '0';
      do {
        const [next, found] = await redis.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        if (found.length > 0) await redis.client.del(...found);
        cursor = next;
      } while (cursor !== '0');
      await redis.close();
    },
  };
}
