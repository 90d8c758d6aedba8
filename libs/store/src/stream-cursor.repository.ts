import type { RedisConnection } from './redis.connection';
import type { StoreKeys } from './store.keys';

export interface AcknowledgedCursor {
  /** The opaque cursor of the last event the client acknowledged. */
  readonly cursor: string;
  readonly acknowledgedAt: string;
}

/**
 * The acknowledged cursor of each durable stream subscription: a reconnecting client resumes
 * right after it (SPEC §7).
 */
export class StreamCursorRepository {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
  ) {}

  async acknowledge(subscriptionId: string, cursor: string, at: Date = new Date()): Promise<void> {
    await this.redis.client.hset(
      this.keys.streamCursor(subscriptionId),
      'cursor',
      cursor,
      'acknowledgedAt',
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
