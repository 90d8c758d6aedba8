import { randomUUID } from 'node:crypto';
import type { RedisConnection } from './redis.connection';
import type { StoreKeys } from './store.keys';

/**
 * A reservation's marker is `pending:<token>`, the token its writer's own, so only that writer
 * releases or completes it: a write that fails (or succeeds) after its reservation ran out must
 * not settle the reservation of a newer request for the same id. (Markers written before tokens
 * were bare `pending`.)
 */
const PENDING = 'pending';
const PENDING_PREFIX = `${PENDING}:`;
/** What RESERVE_ALL answers for an id it took; stored values are never empty. */
const RESERVED = '';

// KEYS: the ids' keys; ARGV[1] the pending marker, ARGV[2] its lifetime in ms. Answers, per
// key, '' when taken or else the value already there (a marker or a first result).
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

// KEYS: the ids' keys; ARGV[1] the retention in seconds, then per key its writer's marker and
// its result. A key that is gone (the reservation ran out) is recorded; one holding another
// writer's marker, or a first result, is left alone.
const COMPLETE_ALL = `
local recorded = 0
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if not value or value == ARGV[2 * i] then
    redis.call('SET', key, ARGV[2 * i + 1], 'EX', ARGV[1])
    recorded = recorded + 1
  end
end
return recorded`;

export type Reservation<T> =
  /**
   * Nobody has written this id: the caller must write it, then `complete` or `release` it with
   * `token`.
   */
  | { state: 'reserved'; token: string }
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
   * one command, not two per event). The ids it takes share one new token.
   */
  async reserveAll(tenant: string, eventIds: readonly string[]): Promise<Reservation<T>[]> {
    if (eventIds.length === 0) return [];
    const token = randomUUID();
    const replies = (await this.redis.client.eval(
      RESERVE_ALL,
      eventIds.length,
      ...eventIds.map((id) => this.keys.idempotency(tenant, id)),
      `${PENDING_PREFIX}${token}`,
      this.reservationMs,
    )) as string[];
    return replies.map((value): Reservation<T> => {
      if (value === RESERVED) return { state: 'reserved', token };
      if (value === PENDING || value.startsWith(PENDING_PREFIX)) return { state: 'pending' };
      return { state: 'done', result: JSON.parse(value) as T };
    });
  }

  async complete(tenant: string, eventId: string, token: string, result: T): Promise<void> {
    await this.completeAll(tenant, [{ eventId, token, result }]);
  }

  /**
   * Records first results, in one round trip (one script): each where the caller's reservation
   * (`token`) still holds, or ran out with nobody else reserving the id since.
   */
  async completeAll(
    tenant: string,
    entries: readonly { eventId: string; token: string; result: T }[],
  ): Promise<void> {
    if (entries.length === 0) return;
    await this.redis.client.eval(
      COMPLETE_ALL,
      entries.length,
      ...entries.map(({ eventId }) => this.keys.idempotency(tenant, eventId)),
      this.retentionSeconds,
      ...entries.flatMap(({ token, result }) => [
        `${PENDING_PREFIX}${token}`,
        JSON.stringify(result),
      ]),
    );
  }

  /**
   * Gives the caller's reservation (`token`) back after a failed write, so a retry of the same
   * id may write it; a newer reservation or a completed result is left alone.
   */
  async release(tenant: string, eventId: string, token: string): Promise<void> {
    const key = this.keys.idempotency(tenant, eventId);
    await this.redis.client.eval(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
      1,
      key,
      `${PENDING_PREFIX}${token}`,
    );
  }
}
