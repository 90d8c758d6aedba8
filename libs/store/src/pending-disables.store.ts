import type { RedisConnection } from './redis.connection';
import type { StoreKeys } from './store.keys';

/** What `herald.subscription.disabled` will say of a disable, recorded before the disable. */
export interface PendingDisable {
  readonly reason: string;
  readonly lastStatus: number | null;
  readonly lastSuccessAt: string | null;
  readonly failingSince: string | null;
  /** When it was recorded (ms since the epoch). */
  readonly at: number;
}

/**
 * Disables whose `herald.subscription.disabled` event is not yet published: recorded before the
 * subscription's status is written and removed once the event is on Kafka, so an instance that
 * dies in between leaves the event for another instance to publish (at least once).
 */
export class PendingDisableStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
  ) {}

  async add(subscriptionId: string, pending: PendingDisable): Promise<void> {
    await this.redis.client.hset(
      this.keys.pendingDisables(),
      subscriptionId,
      JSON.stringify(pending),
    );
  }

  async remove(subscriptionId: string): Promise<void> {
    await this.redis.client.hdel(this.keys.pendingDisables(), subscriptionId);
  }

  /** Every pending disable, by subscription; an entry that does not parse is dropped. */
  async list(): Promise<Map<string, PendingDisable>> {
    const fields = await this.redis.client.hgetall(this.keys.pendingDisables());
    const pending = new Map<string, PendingDisable>();
    for (const [subscriptionId, text] of Object.entries(fields)) {
      try {
        const entry = JSON.parse(text) as PendingDisable;
        if (typeof entry?.reason === 'string' && typeof entry.at === 'number')
          pending.set(subscriptionId, entry);
        else await this.remove(subscriptionId);
      } catch {
        await this.remove(subscriptionId);
      }
    }
    return pending;
  }
}
