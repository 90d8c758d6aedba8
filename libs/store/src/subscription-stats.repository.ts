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
  /**
   * Deliveries ever dead-lettered (a counter): letters the dead-letter list dropped for its cap
   * or age still count.
   */
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

// KEYS: subscription record, stats hash. ARGV: at (ISO), delivered, failed, dead-lettered.
// Nothing is written once the subscription is deleted: a late write would bring its stats back.
const RECORD_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local delivered, failed, dead = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if delivered > 0 then
  redis.call('HINCRBY', KEYS[2], 'delivered', delivered)
  redis.call('HSET', KEYS[2], 'lastSuccessAt', ARGV[1])
end
if failed > 0 then
  redis.call('HINCRBY', KEYS[2], 'failed', failed)
  redis.call('HSET', KEYS[2], 'lastFailureAt', ARGV[1])
end
if dead > 0 then redis.call('HINCRBY', KEYS[2], 'deadLettered', dead) end
return 1
`;

// KEYS: subscription record, stats hash. ARGV: held field prefix, this instance's field, its
// report (count:ms), now ms, freshness ms. Also drops reports no longer fresh: every process
// start reports under a new instance id, and the old ones would stay in the hash forever.
const REPORT_HELD_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
local oldest = tonumber(ARGV[4]) - tonumber(ARGV[5])
local fields = redis.call('HGETALL', KEYS[2])
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, #ARGV[1]) == ARGV[1] then
    local at = tonumber(string.match(fields[i + 1], ':(%d+)$'))
    if not at or at < oldest then redis.call('HDEL', KEYS[2], fields[i]) end
  end
end
return 1
`;

/**
 * Per-subscription counters and the engine instances' lag reports, in one hash (`pending` in it
 * is kept by the retry parking scripts).
 */
export class SubscriptionStatsRepository {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
  ) {}

  /**
   * Adds outcomes; `at` becomes the last success (when delivered) or failure time. Ignored once
   * the subscription is deleted.
   */
  async record(
    subscriptionId: string,
    outcome: { delivered?: number; failed?: number; deadLettered?: number },
    at: Date = new Date(),
  ): Promise<void> {
    await this.redis.client.eval(
      RECORD_SCRIPT,
      2,
      this.keys.subscription(subscriptionId),
      this.keys.subscriptionStats(subscriptionId),
      at.toISOString(),
      String(outcome.delivered ?? 0),
      String(outcome.failed ?? 0),
      String(outcome.deadLettered ?? 0),
    );
  }

  /**
   * One engine instance's count of events it holds unsettled, per subscription. Each instance
   * writes its own field, so instances sharing the work never overwrite each other; a report
   * older than `HELD_REPORT_FRESH_MS` (an instance that stopped) no longer counts, and is
   * dropped with the next report written. Ignored for a deleted subscription.
   */
  async reportHeld(
    instance: string,
    held: ReadonlyMap<string, number>,
    nowMs: number = Date.now(),
  ): Promise<void> {
    if (held.size === 0) return;
    const pipeline = this.redis.client.pipeline();
    for (const [subscriptionId, count] of held)
      pipeline.eval(
        REPORT_HELD_SCRIPT,
        2,
        this.keys.subscription(subscriptionId),
        this.keys.subscriptionStats(subscriptionId),
        HELD_FIELD,
        `${HELD_FIELD}${instance}`,
        `${count}:${Math.round(nowMs)}`,
        String(Math.round(nowMs)),
        String(HELD_REPORT_FRESH_MS),
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
