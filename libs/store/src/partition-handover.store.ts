import type { RedisConnection } from './redis.connection';
import type { StoreKeys } from './store.keys';

/** What the last owner of a source partition left for the next one. */
export interface StoredHandover {
  /** The owner's token (as given to `RetryParkingStore.ownPartition`). */
  readonly token: string;
  /** The owner's settled work, as the delivery engine encodes it; this store never reads it. */
  readonly state: string;
}

/**
 * The hand-over of a source partition between delivery engine instances. An instance losing a
 * partition to a rebalance leaves what it settled past the committed offset (it may no longer
 * commit: its group generation is over), and the next owner skips that work rather than sending
 * it again. Instances also say here that they are running, so a new owner waits for a hand-over
 * only from an owner that can still write one.
 */
export class PartitionHandoverStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
  ) {}

  /** Leaves the partition's hand-over, replacing the previous one; kept for `ttlMs`. */
  async write(
    topic: string,
    partition: number,
    handover: StoredHandover,
    ttlMs: number,
  ): Promise<void> {
    const key = this.keys.partitionHandover(topic, partition);
    const [set, expire] = (await this.redis.client
      .multi()
      .del(key)
      .hset(key, 'token', handover.token, 'state', handover.state)
      .pexpire(key, Math.max(1, Math.round(ttlMs)))
      .exec())!.slice(1) as [Error | null, unknown][];
    if (set?.[0]) throw set[0];
    if (expire?.[0]) throw expire[0];
  }

  /** The partition's latest hand-over, or null if none is kept. */
  async read(topic: string, partition: number): Promise<StoredHandover | null> {
    const fields = await this.redis.client.hgetall(this.keys.partitionHandover(topic, partition));
    if (typeof fields.token !== 'string' || typeof fields.state !== 'string') return null;
    return { token: fields.token, state: fields.state };
  }

  /** Says `instance` is running for the next `ttlMs` (called again well before that ends). */
  async markRunning(instance: string, ttlMs: number): Promise<void> {
    await this.redis.client.set(
      this.keys.engineInstance(instance),
      '1',
      'PX',
      Math.max(1, Math.round(ttlMs)),
    );
  }

  /** True while `instance` says it is running (its last mark has not expired). */
  async isRunning(instance: string): Promise<boolean> {
    return (await this.redis.client.exists(this.keys.engineInstance(instance))) === 1;
  }

  /** `instance` has stopped: nobody need wait for it. */
  async markStopped(instance: string): Promise<void> {
    await this.redis.client.del(this.keys.engineInstance(instance));
  }
}
