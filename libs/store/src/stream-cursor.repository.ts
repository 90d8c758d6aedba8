import type { RedisConnection } from './redis.connection';
import type { StoreKeys } from './store.keys';

export interface AcknowledgedCursor {
  /** The opaque cursor of the last event the client acknowledged. */
  readonly cursor: string;
  readonly acknowledgedAt: string;
}

// KEYS[1] the cursor hash, KEYS[2] the subscription record; ARGV cursor, time. An ack that lands
// after the subscription was deleted would bring back a hash no one reads or deletes.
const ACKNOWLEDGE = `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'cursor', ARGV[1], 'acknowledgedAt', ARGV[2])
return 1`;

/**
 * The acknowledged cursor of each durable stream subscription: a reconnecting client resumes
 * right after it (SPEC §7).
 */
export class StreamCursorRepository {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
  ) {}

  /** Keeps `cursor` as the subscription's resume point; ignored once it is deleted. */
  async acknowledge(subscriptionId: string, cursor: string, at: Date = new Date()): Promise<void> {
    await this.redis.client.eval(
      ACKNOWLEDGE,
      2,
      this.keys.streamCursor(subscriptionId),
      this.keys.subscription(subscriptionId),
      cursor,
      at.toISOString(),
    );
  }

  async get(subscriptionId: string): Promise<AcknowledgedCursor | null> {
    const [cursor, acknowledgedAt] = await this.redis.client.hmget(
      this.keys.streamCursor(subscriptionId),
      'cursor',
      'acknowledgedAt',
    );
    return cursor ? { cursor, acknowledgedAt: acknowledgedAt ?? '' } : null;
  }
}
