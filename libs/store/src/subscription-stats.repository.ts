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
  /**
   * Events read from Kafka for this subscription and not yet settled, summed over the engine
   * instances that reported in the last `HELD_REPORT_FRESH_MS` (parked retries are `pending`).
   */
  readonly lagEvents: number;
  readonly lastSuccessAt: string | null;
  readonly lastFailureAt: string | null;
}

/** An engine instance's report of what it holds counts only while this recent. */
export const HELD_REPORT_FRESH_MS = 15_000;
const HELD_FIELD = 'held:';

/**
 * Per-subscription counters and the engine instances' lag reports, in one hash (`pending` in it
 * is kept by the retry parking scripts).
 */
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

  /**
   * One engine instance's count of events it holds unsettled, per subscription. Each instance
   * writes its own field, so instances sharing the work never overwrite each other; a report
   * older than `HELD_REPORT_FRESH_MS` (an instance that stopped) no longer counts.
   */
  async reportHeld(
    instance: string,
    held: ReadonlyMap<string, number>,
    nowMs: number = Date.now(),
  ): Promise<void> {
    if (held.size === 0) return;
    const pipeline = this.redis.client.pipeline();
    for (const [subscriptionId, count] of held)
      pipeline.hset(
        this.keys.subscriptionStats(subscriptionId),
        `${HELD_FIELD}${instance}`,
        `${count}:${Math.round(nowMs)}`,
      );
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  }

  async get(subscriptionId: string, nowMs: number = Date.now()): Promise<SubscriptionStats> {
    const fields = await this.redis.client.hgetall(this.keys.subscriptionStats(subscriptionId));
    const count = (name: string) => Number(fields[name] ?? 0);
    let lagEvents = 0;
    for (const [name, value] of Object.entries(fields)) {
      if (!name.startsWith(HELD_FIELD)) continue;
      const [held, at] = value.split(':').map(Number);
      if (nowMs - (at ?? 0) <= HELD_REPORT_FRESH_MS) lagEvents += held ?? 0;
    }
    return {
      delivered: count('delivered'),
      failed: count('failed'),
      pending: count('pending'),
      deadLettered: count('deadLettered'),
      lagEvents,
      lastSuccessAt: fields['lastSuccessAt'] ?? null,
      lastFailureAt: fields['lastFailureAt'] ?? null,
    };
  }
}
