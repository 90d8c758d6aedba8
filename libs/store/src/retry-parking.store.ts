import type { RedisConnection } from './redis.connection';
import type { StoreKeys } from './store.keys';

/**
 * The source partition a parked task was read from. Only the engine instance that owns the
 * partition (see `ownPartition`) may park its tasks, so an instance that lost the partition in
 * a rebalance cannot park behind the new owner's back.
 */
export interface ParkingOwner {
  readonly topic: string;
  readonly partition: number;
  readonly token: string;
}

export interface ParkRequest {
  readonly subscriptionId: string;
  /** The queue: an ordering key (later tasks wait behind earlier ones) or a task's own id. */
  readonly queueId: string;
  /** The task as the engine serialises it; the store never reads it. */
  readonly task: string;
  /** When the queue's head is due, if this task starts the queue (ms since the epoch). */
  readonly dueMs: number;
  /** `create`: start the queue or join it. `append`: only join an existing queue. */
  readonly mode: 'create' | 'append';
  /** null for work not read by the consumer group (replays, redrives). */
  readonly owner: ParkingOwner | null;
}

/**
 * `parked`: the task heads a new queue. `queued`: it waits behind the queue's earlier tasks.
 * `no-queue`: mode append and there was no queue to join. `not-owner`: the partition moved.
 * `no-subscription`: the subscription was deleted; nothing was parked (its tasks are not
 * delivered, and a park must not bring back the stats its deletion took).
 */
export type ParkOutcome = 'parked' | 'queued' | 'no-queue' | 'not-owner' | 'no-subscription';

/** What taking a source partition over finds (see `ownPartition`). */
export interface PartitionTakeover {
  /** The queues parked from the partition, by subscription. */
  readonly parked: Map<string, Set<string>>;
  /** The token that owned the partition before, or null if none did. */
  readonly previousOwner: string | null;
}

/** A queue head claimed for delivery until `lease` (ms); the claim is the token for finishing. */
export interface ClaimedTask {
  readonly subscriptionId: string;
  readonly queueId: string;
  readonly task: string;
  readonly lease: number;
}

/** What became of a claimed head. */
export type ParkedOutcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'retry'; readonly task: string; readonly dueMs: number }
  | { readonly kind: 'drop-queue' }
  | { readonly kind: 'release'; readonly dueMs: number };

const REFRESH_SUBSCRIPTION_LUA = `
local function refresh_subscription(subs_key, due_key, subscription_id)
  local head = redis.call('ZRANGE', due_key, 0, 0, 'WITHSCORES')
  if head[1] then
    redis.call('ZADD', subs_key, head[2], subscription_id)
  else
    redis.call('ZREM', subs_key, subscription_id)
  end
end
`;

// KEYS: parked subscriptions, subscription's due set, queue, partition's parked keys, partition
// owner, stats hash, parked count, subscription record. ARGV: subscription id, queue id, task,
// due ms, mode, owner token ('' = not owned), parked-keys field. Once the subscription is deleted
// nothing is parked (-2): its queue would only wait to be dropped, and its stats come back.
const PARK_SCRIPT = `${REFRESH_SUBSCRIPTION_LUA}
if redis.call('EXISTS', KEYS[8]) == 0 then return -2 end
local owned = ARGV[6] ~= ''
if owned and redis.call('GET', KEYS[5]) ~= ARGV[6] then return -1 end
local length = redis.call('LLEN', KEYS[3])
if length == 0 and ARGV[5] == 'append' then return 0 end
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('HINCRBY', KEYS[6], 'pending', 1)
redis.call('INCR', KEYS[7])
if length > 0 then return 2 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
if owned then redis.call('HSET', KEYS[4], ARGV[7], ARGV[1]) end
refresh_subscription(KEYS[1], KEYS[2], ARGV[1])
return 1
`;

// KEYS: parked subscriptions, subscription's due set. ARGV: subscription id, now ms, lease
// until ms, limit, queue key prefix. Moving a head's due time to the lease's end is the claim:
// nobody else sees it due until then, and a claimer that dies simply lets it come due again.
// (Queue keys are derived from the prefix inside the script: fine on a single Redis node.)
const CLAIM_SCRIPT = `${REFRESH_SUBSCRIPTION_LUA}
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[4]))
local claimed = {}
for _, id in ipairs(ids) do
  local task = redis.call('LINDEX', ARGV[5] .. id, 0)
  if task then
    redis.call('ZADD', KEYS[2], ARGV[3], id)
    claimed[#claimed + 1] = id
    claimed[#claimed + 1] = task
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
refresh_subscription(KEYS[1], KEYS[2], ARGV[1])
return claimed
`;

// KEYS: parked subscriptions, subscription's due set, queue, partition's parked keys, stats
// hash, parked count. ARGV: subscription id, queue id, lease, now ms, parked-keys field ('' =
// not owned), action, task, due ms, next lease ('' = none). A stats hash that is gone went with
// its deleted subscription (the park of these tasks created it): it is not brought back with a
// negative count. With a next lease, a 'done' that leaves tasks in the queue claims its new head
// until then and returns it ({1, task}): the claimer sends a key's parked tasks one after
// another, without waiting for a poll between them.
const FINISH_SCRIPT = `${REFRESH_SUBSCRIPTION_LUA}
local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
if not score or tonumber(score) ~= tonumber(ARGV[3]) then return 0 end
local action = ARGV[6]
if action == 'retry' then
  redis.call('LSET', KEYS[3], 0, ARGV[7])
  redis.call('ZADD', KEYS[2], ARGV[8], ARGV[2])
elseif action == 'release' then
  redis.call('ZADD', KEYS[2], ARGV[8], ARGV[2])
else
  local removed = 1
  if action == 'drop-queue' then
    removed = redis.call('LLEN', KEYS[3])
    redis.call('DEL', KEYS[3])
  else
    redis.call('LPOP', KEYS[3])
  end
  if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('HINCRBY', KEYS[5], 'pending', -removed) end
  redis.call('DECRBY', KEYS[6], removed)
  if redis.call('LLEN', KEYS[3]) > 0 then
    if action == 'done' and ARGV[9] ~= '' then
      redis.call('ZADD', KEYS[2], ARGV[9], ARGV[2])
      refresh_subscription(KEYS[1], KEYS[2], ARGV[1])
      return {1, redis.call('LINDEX', KEYS[3], 0)}
    end
    redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
  else
    redis.call('ZREM', KEYS[2], ARGV[2])
    if ARGV[5] ~= '' then redis.call('HDEL', KEYS[4], ARGV[5]) end
  end
end
refresh_subscription(KEYS[1], KEYS[2], ARGV[1])
return 1
`;

// KEYS: health hash, subscription record. ARGV: now ms, the caller's last success ms ('' =
// none). Returns since when the subscription has been failing: a failure after the last
// recorded success starts a new failing period. Once the subscription is deleted nothing is
// written (a late failure would bring its health back) and the answer is now.
const FAILURE_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 0 then return ARGV[1] end
local since = tonumber(redis.call('HGET', KEYS[1], 'failingSince'))
local success = tonumber(redis.call('HGET', KEYS[1], 'lastSuccessMs'))
local seen = tonumber(ARGV[2])
if seen and (not success or seen > success) then
  success = seen
  redis.call('HSET', KEYS[1], 'lastSuccessMs', ARGV[2])
end
if not since or (success and success >= since) then
  since = tonumber(ARGV[1])
  redis.call('HSET', KEYS[1], 'failingSince', ARGV[1])
end
return tostring(since)
`;

// KEYS: health hash, subscription record. ARGV: now ms.
const SUCCESS_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'lastSuccessMs', ARGV[1])
return 1
`;

const FIELD_SEPARATOR = '|';

/**
 * Durable parking of delivery retries in Redis.
 *
 * Each subscription has parked queues: for `ordering: key` one per ordering key, so a key's
 * later events wait behind its parked head; otherwise one per task. A sorted set per
 * subscription holds each queue's head due time, and one global sorted set the subscriptions
 * with their earliest due time, so a poller asks only for subscriptions that have due work and
 * claims heads of one subscription at a time (bounded by that subscription's free capacity).
 * Every change is one Lua script, so a claim is atomic: two instances never send one parked
 * task at once. A claim is a lease; a claimer that dies lets the head come due again.
 */
export class RetryParkingStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
  ) {}

  async park(request: ParkRequest): Promise<ParkOutcome> {
    const { subscriptionId, queueId, owner } = request;
    const result = await this.redis.client.eval(
      PARK_SCRIPT,
      8,
      this.keys.parkedSubscriptions(),
      this.keys.parkedDue(subscriptionId),
      this.keys.parkedQueue(subscriptionId, queueId),
      owner ? this.keys.parkedKeys(owner.topic, owner.partition) : this.keys.parkedCount(),
      owner ? this.keys.partitionOwner(owner.topic, owner.partition) : this.keys.parkedCount(),
      this.keys.subscriptionStats(subscriptionId),
      this.keys.parkedCount(),
      this.keys.subscription(subscriptionId),
      subscriptionId,
      queueId,
      request.task,
      String(Math.round(request.dueMs)),
      request.mode,
      owner?.token ?? '',
      parkedKeyField(subscriptionId, queueId),
    );
    switch (Number(result)) {
      case 1:
        return 'parked';
      case 2:
        return 'queued';
      case 0:
        return 'no-queue';
      case -2:
        return 'no-subscription';
      default:
        return 'not-owner';
    }
  }

  /** Subscriptions with a queue head due at `nowMs`, earliest first, past the first `skip`. */
  async dueSubscriptions(nowMs: number, limit = 100, skip = 0): Promise<string[]> {
    return this.redis.client.zrangebyscore(
      this.keys.parkedSubscriptions(),
      '-inf',
      Math.round(nowMs),
      'LIMIT',
      skip,
      limit,
    );
  }

  /**
   * Claims up to `limit` queue heads of one subscription due at `nowMs`, for `leaseMs` from the
   * claim itself: a poll round that took its `nowMs` long before (it stalled) must not write a
   * lease already over, under which a second claimer would take the same head at once.
   */
  async claimDue(
    subscriptionId: string,
    options: { nowMs: number; leaseMs: number; limit: number },
  ): Promise<ClaimedTask[]> {
    const lease = Math.round(Math.max(options.nowMs, Date.now()) + options.leaseMs);
    const flat = (await this.redis.client.eval(
      CLAIM_SCRIPT,
      2,
      this.keys.parkedSubscriptions(),
      this.keys.parkedDue(subscriptionId),
      subscriptionId,
      String(Math.round(options.nowMs)),
      String(lease),
      String(options.limit),
      this.keys.parkedQueue(subscriptionId, ''),
    )) as string[];
    const claimed: ClaimedTask[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      claimed.push({ subscriptionId, queueId: flat[i]!, task: flat[i + 1]!, lease });
    return claimed;
  }

  /**
   * Settles a claimed head: `done` removes it (the next task of its queue is due at once),
   * `retry` replaces it and sets its due time, `drop-queue` discards the whole queue, `release`
   * hands it back unsent. False when the claim was lost (its lease ran out and another instance
   * claimed it), in which case nothing changes.
   */
  async finish(
    claim: ClaimedTask,
    outcome: ParkedOutcome,
    source: { topic: string; partition: number } | null,
    nowMs: number = Date.now(),
  ): Promise<boolean> {
    return (await this.runFinish(claim, outcome, source, nowMs, null)) !== false;
  }

  /**
   * Removes a claimed head (`done`) and claims the next task of its queue for `leaseMs`, in one
   * step: the caller sends a key's parked tasks one after another, as fast as its endpoint
   * answers, where the poller would claim one a round. `next` is null when the queue is empty
   * now; `kept` false when the claim was lost (nothing changes, nothing is claimed).
   */
  async finishAndClaimNext(
    claim: ClaimedTask,
    source: { topic: string; partition: number } | null,
    leaseMs: number,
    nowMs: number = Date.now(),
  ): Promise<{ kept: boolean; next: ClaimedTask | null }> {
    const lease = Math.round(nowMs + leaseMs);
    const result = await this.runFinish(claim, { kind: 'done' }, source, nowMs, lease);
    if (result === false) return { kept: false, next: null };
    if (result === true) return { kept: true, next: null };
    const next = {
      subscriptionId: claim.subscriptionId,
      queueId: claim.queueId,
      task: result,
      lease,
    };
    return { kept: true, next };
  }

  /** The finish script: false (claim lost), true (finished), or the next head it claimed. */
  private async runFinish(
    claim: ClaimedTask,
    outcome: ParkedOutcome,
    source: { topic: string; partition: number } | null,
    nowMs: number,
    nextLease: number | null,
  ): Promise<boolean | string> {
    const { subscriptionId, queueId } = claim;
    const result = (await this.redis.client.eval(
      FINISH_SCRIPT,
      6,
      this.keys.parkedSubscriptions(),
      this.keys.parkedDue(subscriptionId),
      this.keys.parkedQueue(subscriptionId, queueId),
      source ? this.keys.parkedKeys(source.topic, source.partition) : this.keys.parkedCount(),
      this.keys.subscriptionStats(subscriptionId),
      this.keys.parkedCount(),
      subscriptionId,
      queueId,
      String(claim.lease),
      String(Math.round(nowMs)),
      source ? parkedKeyField(subscriptionId, queueId) : '',
      outcome.kind,
      outcome.kind === 'retry' ? outcome.task : '',
      outcome.kind === 'retry' || outcome.kind === 'release'
        ? String(Math.round(outcome.dueMs))
        : '0',
      nextLease === null ? '' : String(nextLease),
    )) as number | [number, string];
    if (Array.isArray(result)) return result[1];
    return Number(result) === 1;
  }

  /**
   * Takes ownership of a source partition for `token` and returns the queues parked from it, by
   * subscription, and the token that owned it before (null if none). From then on, parking from
   * that partition by any other token is refused.
   */
  async ownPartition(topic: string, partition: number, token: string): Promise<PartitionTakeover> {
    const [previous, fields] = (await this.redis.client
      .multi()
      .getset(this.keys.partitionOwner(topic, partition), token)
      .hgetall(this.keys.parkedKeys(topic, partition))
      .exec()) as [[Error | null, string | null], [Error | null, Record<string, string>]];
    if (previous[0]) throw previous[0];
    if (fields[0]) throw fields[0];
    const parked = new Map<string, Set<string>>();
    for (const [field, subscriptionId] of Object.entries(fields[1])) {
      const queueId = field.slice(subscriptionId.length + FIELD_SEPARATOR.length);
      const queues = parked.get(subscriptionId) ?? new Set<string>();
      queues.add(queueId);
      parked.set(subscriptionId, queues);
    }
    return { parked, previousOwner: previous[1] };
  }

  /** Tasks parked across all subscriptions. */
  async count(): Promise<number> {
    return Number((await this.redis.client.get(this.keys.parkedCount())) ?? 0);
  }

  /**
   * Records a delivery failure; returns since when (ms) the subscription has been failing.
   * `lastSuccessMs` is the caller's latest success, which it may not have written yet
   * (`noteSuccess` is throttled): a failing period never starts before it. A subscription that
   * becomes active again (see SubscriptionRepository) starts without one; a deleted one records
   * nothing and answers `nowMs`.
   */
  async noteFailure(
    subscriptionId: string,
    nowMs: number = Date.now(),
    lastSuccessMs: number | null = null,
  ): Promise<number> {
    const since = await this.redis.client.eval(
      FAILURE_SCRIPT,
      2,
      this.keys.deliveryHealth(subscriptionId),
      this.keys.subscription(subscriptionId),
      String(Math.round(nowMs)),
      lastSuccessMs === null ? '' : String(Math.round(lastSuccessMs)),
    );
    return Number(since);
  }

  /** Records a success: any failing period ends. */
  async noteSuccess(subscriptionId: string, nowMs: number = Date.now()): Promise<void> {
    await this.redis.client.eval(
      SUCCESS_SCRIPT,
      2,
      this.keys.deliveryHealth(subscriptionId),
      this.keys.subscription(subscriptionId),
      String(Math.round(nowMs)),
    );
  }
}

function parkedKeyField(subscriptionId: string, queueId: string): string {
  return `${subscriptionId}${FIELD_SEPARATOR}${queueId}`;
}
