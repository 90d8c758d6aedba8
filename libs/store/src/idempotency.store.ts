import type { RedisConnection } from './redis.connection';
import type { StoreKeys } from './store.keys';

const PENDING = 'pending';

export type Reservation<T> =
  /** Nobody has written this id: the caller must write it, then `complete` or `release`. */
  | { state: 'reserved' }
  /** Written before: the first result. */
  | { state: 'done'; result: T }
  /** Another request is writing this id right now. */
  | { state: 'pending' };

/**
 * First-result records for event ids (SPEC §4: the same id again within 24 h answers the first
 * result and writes nothing). A reservation is taken atomically (SET NX) before the write, so
 * two concurrent requests with one id never both write it.
 */
export class IdempotencyStore<T> {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
    /** How long a first result is remembered, in seconds. Default 24 h. */
    private readonly retentionSeconds = 24 * 60 * 60,
    /** How long a reservation holds if its writer dies before completing, in ms. Default 30 s. */
    private readonly reservationMs = 30_000,
  ) {}

  async reserve(tenant: string, eventId: string): Promise<Reservation<T>> {
    const key = this.keys.idempotency(tenant, eventId);
    const taken = await this.redis.client.set(key, PENDING, 'PX', this.reservationMs, 'NX');
    if (taken === 'OK') return { state: 'reserved' };
    const existing = await this.redis.client.get(key);
    if (existing === null) return this.reserve(tenant, eventId); // expired in between: try again
    if (existing === PENDING) return { state: 'pending' };
    return { state: 'done', result: JSON.parse(existing) as T };
  }

  /** `reserve` for many ids in two pipelined round trips instead of one per id. */
  async reserveAll(tenant: string, eventIds: readonly string[]): Promise<Reservation<T>[]> {
    if (eventIds.length === 0) return [];
    const keys = eventIds.map((id) => this.keys.idempotency(tenant, id));
    const taking = this.redis.client.pipeline();
    for (const key of keys) taking.set(key, PENDING, 'PX', this.reservationMs, 'NX');
    const taken = (await taking.exec()) ?? [];
    const reservations: (Reservation<T> | undefined)[] = taken.map(([error, reply]) => {
      if (error) throw error;
      return reply === 'OK' ? { state: 'reserved' } : undefined;
    });
    const missing = reservations.flatMap((r, i) => (r === undefined ? [i] : []));
    if (missing.length > 0) {
      const existing = await this.redis.client.mget(...missing.map((i) => keys[i]!));
      for (const [n, i] of missing.entries()) {
        const value = existing[n];
        reservations[i] =
          value === null || value === undefined
            ? await this.reserve(tenant, eventIds[i]!) // expired in between: take it singly
            : value === PENDING
              ? { state: 'pending' }
              : { state: 'done', result: JSON.parse(value) as T };
      }
    }
    return reservations as Reservation<T>[];
  }

  async complete(tenant: string, eventId: string, result: T): Promise<void> {
    await this.completeAll(tenant, [{ eventId, result }]);
  }

  /** `complete` for many ids in one round trip. */
  async completeAll(
    tenant: string,
    entries: readonly { eventId: string; result: T }[],
  ): Promise<void> {
    if (entries.length === 0) return;
    const writing = this.redis.client.pipeline();
    for (const { eventId, result } of entries)
      writing.set(
        this.keys.idempotency(tenant, eventId),
        JSON.stringify(result),
        'EX',
        this.retentionSeconds,
      );
    for (const [error] of (await writing.exec()) ?? []) if (error) throw error;
  }

  /** Gives a reservation back after a failed write, so a retry of the same id may write it. */
  async release(tenant: string, eventId: string): Promise<void> {
    const key = this.keys.idempotency(tenant, eventId);
    // Delete only our pending marker, never a completed result.
    await this.redis.client.eval(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
      1,
      key,
      PENDING,
    );
  }
}
