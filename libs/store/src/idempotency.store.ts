import type { RedisConnection } from './redis.connection';
import type { StoreKeys } from './store.keys';

const PENDING = 'pending';
/** What RESERVE_ALL answers for an id it took; stored values are never empty. */
const RESERVED = '';

// KEYS: the ids' keys; ARGV[1] the pending marker, ARGV[2] its lifetime in ms. Answers, per
// key, '' when taken or else the value already there (the marker or a first result).
const RESERVE_ALL = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'PX', ARGV[2], 'NX') then
    out[i] = ''
  else
    out[i] = redis.call('GET', key) or ARGV[1]
  end
end
return out`;

// KEYS: the ids' keys; ARGV[1] the retention in seconds, then one result per key.
const COMPLETE_ALL = `
for i, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1])
end
return #KEYS`;

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
    const [reservation] = await this.reserveAll(tenant, [eventId]);
    return reservation!;
  }

  /**
   * `reserve` for many ids in one round trip: one script takes every free id and reads the
   * others, atomically, so nothing can expire or change between the two (and a batch costs
   * one command, not two per event).
   */
  async reserveAll(tenant: string, eventIds: readonly string[]): Promise<Reservation<T>[]> {
    if (eventIds.length === 0) return [];
    const replies = (await this.redis.client.eval(
      RESERVE_ALL,
      eventIds.length,
      ...eventIds.map((id) => this.keys.idempotency(tenant, id)),
      PENDING,
      this.reservationMs,
    )) as string[];
    return replies.map((value): Reservation<T> => {
      if (value === RESERVED) return { state: 'reserved' };
      if (value === PENDING) return { state: 'pending' };
      return { state: 'done', result: JSON.parse(value) as T };
    });
  }

  async complete(tenant: string, eventId: string, result: T): Promise<void> {
    await this.completeAll(tenant, [{ eventId, result }]);
  }

  /** `complete` for many ids in one round trip (one script). */
  async completeAll(
    tenant: string,
    entries: readonly { eventId: string; result: T }[],
  ): Promise<void> {
    if (entries.length === 0) return;
    await this.redis.client.eval(
      COMPLETE_ALL,
      entries.length,
      ...entries.map(({ eventId }) => this.keys.idempotency(tenant, eventId)),
      this.retentionSeconds,
      ...entries.map(({ result }) => JSON.stringify(result)),
    );
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
