import type { RedisConnection } from './redis.connection';
import type { StoreKeys } from './store.keys';

/** What `GET /v1/subscriptions/{id}/stats` shows; written by the delivery engine. */
export interface SubscriptionStats {
  /** Events delivered (2xx), counting each event once however many attempts it took. */
  readonly delivered: number;
  /** Failed attempts. */
  readonly failed: number;
  /** Deliveries waiting for a retry right now. */
  readonly pending: number;
  readonly deadLettered: number;
  /** Matching events in Kafka not yet settled for this subscription. */
  readonly lagEvents: number;
  readonly lastSuccessAt: string | null;
  readonly lastFailureAt: string | null;
}

/** Per-subscription counters (incremented) and gauges (set) in one hash. */
export class SubscriptionStatsRepository {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
  ) {}

  /** Adds outcomes; `at` becomes the last success (when delivered) or failure time. */
  async record(
    subscriptionId: string,
    outcome: { delivered?: number; failed?: number; deadLettered?: number },
    at: Date = new Date(),
  ): Promise<void> {
    const key = this.keys.subscriptionStats(subscriptionId);
    const pipeline = this.redis.client.multi();
    if (outcome.delivered) {
      pipeline.hincrby(key, 'delivered', outcome.delivered);
      pipeline.hset(key, 'lastSuccessAt', at.toISOString());
    }
    if (outcome.failed) {
      pipeline.hincrby(key, 'failed', outcome.failed);
      pipeline.hset(key, 'lastFailureAt', at.toISOString());
    }
    if (outcome.deadLettered) pipeline.hincrby(key, 'deadLettered', outcome.deadLettered);
    await pipeline.exec();
  }

  /** Sets the gauges the engine measures. */
  async setGauges(
    subscriptionId: string,
    gauges: { pending?: number; lagEvents?: number },
  ): Promise<void> {
    const fields = Object.entries(gauges).flatMap(([name, value]) =>
      value === undefined ? [] : [name, String(value)],
    );
    if (fields.length > 0)
      await this.redis.client.hset(this.keys.subscriptionStats(subscriptionId), ...fields);
  }

  async get(subscriptionId: string): Promise<SubscriptionStats> {
    const fields = await this.redis.client.hgetall(this.keys.subscriptionStats(subscriptionId));
    const count = (name: string) => Number(fields[name] ?? 0);
    return {
      delivered: count('delivered'),
      failed: count('failed'),
      pending: count('pending'),
      deadLettered: count('deadLettered'),
      lagEvents: count('lagEvents'),
      lastSuccessAt: fields['lastSuccessAt'] ?? null,
      lastFailureAt: fields['lastFailureAt'] ?? null,
    };
  }
}
