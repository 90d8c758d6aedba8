import { HELD_BY_LUA, newClaimToken, takeOverExpired, takeOverScript } from './leased-queue';
import type { RedisConnection } from './redis.connection';
import { newSortableId } from './sortable-id';
import { LeaseLostError } from './store.errors';
import type { StoreKeys } from './store.keys';
import { NOTICE_LOG_LENGTH, NOTIFY_LUA } from './subscription-notices';
import type { Subscription } from './subscription.repository';

/** Where a replay starts or ends: an RFC 3339 time, or a stream cursor. */
export type ReplayPosition = { readonly time: string } | { readonly cursor: string };

export type ReplayStatus = 'requested' | 'running' | 'completed' | 'failed' | 'cancelled';

/** Counters the engine advances while a replay runs. */
export interface ReplayProgress {
  /** Records read from Kafka. */
  readonly scanned: number;
  /** Of those, events the subscription's types and filter match. */
  readonly matched: number;
  readonly delivered: number;
  readonly deadLettered: number;
}

export interface Replay {
  readonly id: string;
  readonly subscriptionId: string;
  readonly tenant: string;
  readonly from: ReplayPosition;
  /** null: up to the end offsets seen when the replay starts. */
  readonly to: ReplayPosition | null;
  readonly status: ReplayStatus;
  readonly requestedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly error: string | null;
  readonly progress: ReplayProgress;
  /** How often it was started again after the instance running it stopped. */
  readonly restarts: number;
}

/**
 * A replay this instance claimed: `token` names the claim, and every write under it (renewal,
 * progress, ends, hand-back, finish) is refused with LeaseLostError once another instance took
 * the replay over.
 */
export interface ClaimedReplay extends Replay {
  readonly token: string;
}

/** What a write under a claim needs: the replay's id and the claim's token. */
export type ReplayClaim = Pick<ClaimedReplay, 'id' | 'token'>;

/** Where a replay without `to` ends in one partition (offset: the first one not read). */
export interface ReplayEnd {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export const REPLAY_ID_PREFIX = 'rpl_';

/** The statuses a replay ends in. */
export const FINAL_REPLAY_STATUSES: ReadonlySet<ReplayStatus> = new Set([
  'completed',
  'failed',
  'cancelled',
]);

/** A backfill's times: from the subscription's start to its creation (RFC 3339). */
export interface BackfillRange {
  readonly from: string;
  readonly to: string;
}

/**
 * The backfill a webhook subscription starting at `earliest` or a past time gets: a replay from
 * then until its creation (live delivery starts at its creation). Null when it needs none.
 */
export function backfillRange(
  subscription: Pick<Subscription, 'kind' | 'from' | 'createdAt'>,
): BackfillRange | null {
  if (subscription.kind !== 'webhook' || subscription.from === 'latest') return null;
  const from = subscription.from === 'earliest' ? new Date(0).toISOString() : subscription.from;
  // A future start: live only.
  if (!(Date.parse(from) < Date.parse(subscription.createdAt))) return null;
  return { from, to: subscription.createdAt };
}

/** Whether `replay` is the backfill `range` describes. */
export function isBackfill(replay: Replay, range: BackfillRange): boolean {
  return (
    'time' in replay.from &&
    replay.from.time === range.from &&
    replay.to !== null &&
    'time' in replay.to &&
    replay.to.time === range.to
  );
}

const PROGRESS_FIELDS = ['scanned', 'matched', 'delivered', 'deadLettered'] as const;

// Stores a requested replay, indexes it under its subscription, queues it and publishes the
// notice. KEYS: replay hash, subscription's replay index, queue, notice seq, notice log.
// ARGV: request JSON, id, subscription id, tenant, requestedAt, notice channel, log length.
const ENQUEUE_LUA = `
redis.call('HSET', KEYS[1], 'request', ARGV[1], 'status', 'requested', 'requestedAt', ARGV[5],
  'scanned', 0, 'matched', 0, 'delivered', 0, 'deadLettered', 0)
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('LPUSH', KEYS[3], ARGV[2])
herald_notify(KEYS[4], KEYS[5], ARGV[6], ARGV[7],
  {kind = 'replay.requested', subscriptionId = ARGV[3], tenant = ARGV[4], requestId = ARGV[2]})`;

const REQUEST_SCRIPT = `${NOTIFY_LUA}
${ENQUEUE_LUA}
return 1`;

// As REQUEST_SCRIPT, unless the subscription already has a replay of the backfill's times.
// Extra ARGV: replay hash key prefix, from time, to time. Returns { id, 1 if it was created }.
const REQUEST_BACKFILL_SCRIPT = `${NOTIFY_LUA}
for _, existing in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local request = redis.call('HGET', ARGV[8] .. existing, 'request')
  if request then
    local ok, asked = pcall(cjson.decode, request)
    if ok and type(asked['from']) == 'table' and asked['from']['time'] == ARGV[9]
      and type(asked['to']) == 'table' and asked['to']['time'] == ARGV[10] then
      return { existing, 0 }
    end
  end
end
${ENQUEUE_LUA}
return { ARGV[2], 1 }`;

// KEYS: queue, claimed list. ARGV: replay hash key prefix, startedAt, lease end (ms).
// Moves the oldest queued replay to the claimed list and marks it running under a lease, in one
// step: a claimed replay always has a lease, so a take-over never mistakes a fresh claim.
/**
 * KEYS queue, claimed list; ARGV hash prefix, startedAt, leaseUntil, per-tenant limit, how far
 * into the queue to look, the claim's token. The oldest queued replay whose subscription has none
 * running and whose tenant has fewer than the limit running (across all instances: the claimed
 * list) is moved to the claimed list and marked running, held by the token. Entries whose hash is
 * gone are dropped.
 */
const CLAIM_SCRIPT = `
local function owner(id)
  local request = redis.call('HGET', ARGV[1] .. id, 'request')
  if not request then return nil end
  local ok, decoded = pcall(cjson.decode, request)
  if not ok or type(decoded) ~= 'table' then return nil end
  return decoded
end
local busy, running = {}, {}
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local request = owner(id)
  if request then
    busy[tostring(request['subscriptionId'])] = true
    local tenant = tostring(request['tenant'])
    running[tenant] = (running[tenant] or 0) + 1
  end
end
local limit = tonumber(ARGV[4])
local queued = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[5]), -1)
for i = #queued, 1, -1 do
  local id = queued[i]
  local request = owner(id)
  if not request then
    redis.call('LREM', KEYS[1], 0, id)
  elseif not busy[tostring(request['subscriptionId'])]
    and (running[tostring(request['tenant'])] or 0) < limit then
    redis.call('LREM', KEYS[1], -1, id)
    redis.call('LPUSH', KEYS[2], id)
    redis.call('HSET', ARGV[1] .. id, 'status', 'running', 'startedAt', ARGV[2],
      'leaseUntil', ARGV[3], 'owner', ARGV[6])
    return id
  end
end
return false`;

const RESET_LUA = `
  redis.call('HSET', hash, 'status', 'requested', 'scanned', 0, 'matched', 0,
    'delivered', 0, 'deadLettered', 0)
  redis.call('HINCRBY', hash, 'restarts', 1)`;

// Claimed replays whose lease ran out (their instance died) go back to the front of the queue.
const TAKE_OVER_SCRIPT = takeOverScript(RESET_LUA);

// KEYS: claimed list, queue. ARGV: replay hash key prefix, the id, the claim's token. A replay
// this instance claimed and stops running (it is shutting down) goes back to the queue, no longer
// held by the token; 1 if it did, -1 if another claim holds it.
const HAND_BACK_SCRIPT = `${HELD_BY_LUA}
local hash = ARGV[1] .. ARGV[2]
local held = held_by(hash, ARGV[3])
if held == -1 then return -1 end
if redis.call('LREM', KEYS[1], 0, ARGV[2]) == 0 or held == 0 then return 0 end
redis.call('HDEL', hash, 'owner')
${RESET_LUA}
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1`;

// The engine's writes to a running replay (KEYS[1]) under its claim's token (ARGV[1]): -1 when
// another claim holds it. Its hash goes when its subscription is deleted (0): a write landing
// after that must not bring back a hash without its request.
const IF_HELD_LUA = `${HELD_BY_LUA}
local held = held_by(KEYS[1], ARGV[1])
if held ~= 1 then return held end`;

// KEYS: replay hash. ARGV: token, then field, increment, field, increment, …
const ADD_PROGRESS_SCRIPT = `${IF_HELD_LUA}
for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1`;

// KEYS: replay hash. ARGV: token, lease end (ms).
const RENEW_SCRIPT = `${IF_HELD_LUA}
redis.call('HSET', KEYS[1], 'leaseUntil', ARGV[2])
return 1`;

// KEYS: replay hash, claimed list. ARGV: token, the id, then field, value, … to set. A replay
// whose hash is gone leaves the claimed list too; one another claim holds stays in it (that
// claim's entry).
const FINISH_SCRIPT = `${HELD_BY_LUA}
local held = held_by(KEYS[1], ARGV[1])
if held == -1 then return -1 end
redis.call('LREM', KEYS[2], 0, ARGV[2])
if held == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
return 1`;

// KEYS: replay hash. ARGV: token, the ends this run found. Answers the first run's ends.
const FIRST_ENDS_SCRIPT = `${IF_HELD_LUA}
redis.call('HSETNX', KEYS[1], 'ends', ARGV[2])
return redis.call('HGET', KEYS[1], 'ends')`;

/** How long a claim holds without renewal; the engine renews it every few seconds. */
export const REPLAY_LEASE_MS = 30_000;

/** Replays of one tenant running at once across all instances, unless configured otherwise. */
export const DEFAULT_REPLAYS_PER_TENANT = 2;

/** How many of the oldest queued replays a claim looks at for one it may run. */
const CLAIM_LOOKAHEAD = 1000;

/**
 * Replay requests and their progress: one hash per replay (the request, status, times and
 * counters the engine increments), a per-subscription index, and a queue the engine claims from.
 */
export class ReplayRepository {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
  ) {}

  async request(input: {
    subscriptionId: string;
    tenant: string;
    from: ReplayPosition;
    to: ReplayPosition | null;
  }): Promise<Replay> {
    const id = newSortableId(REPLAY_ID_PREFIX);
    await this.redis.client.eval(REQUEST_SCRIPT, 5, ...this.requestArguments(id, input));
    return (await this.get(id))!;
  }

  /**
   * Requests the subscription's backfill (`range`, see backfillRange) unless it has one already,
   * in one step: subscription-api asks when the subscription becomes active, and fanout asks
   * when it finds a backfill that was never asked for, so both may ask at once.
   */
  async requestBackfill(input: {
    subscriptionId: string;
    tenant: string;
    range: BackfillRange;
  }): Promise<{ replay: Replay; created: boolean }> {
    const { subscriptionId, tenant, range } = input;
    const request = { subscriptionId, tenant, from: { time: range.from }, to: { time: range.to } };
    const [id, created] = (await this.redis.client.eval(
      REQUEST_BACKFILL_SCRIPT,
      5,
      ...this.requestArguments(newSortableId(REPLAY_ID_PREFIX), request),
      this.keys.replay(''),
      range.from,
      range.to,
    )) as [string, number];
    return { replay: (await this.get(id))!, created: created === 1 };
  }

  private requestArguments(
    id: string,
    input: {
      subscriptionId: string;
      tenant: string;
      from: ReplayPosition;
      to: ReplayPosition | null;
    },
  ): string[] {
    return [
      this.keys.replay(id),
      this.keys.subscriptionReplays(input.subscriptionId),
      this.keys.replayQueue(),
      this.keys.subscriptionNoticeSeq(),
      this.keys.subscriptionNoticeLog(),
      JSON.stringify({ ...input, id }),
      id,
      input.subscriptionId,
      input.tenant,
      new Date().toISOString(),
      this.keys.subscriptionNoticeChannel(),
      String(NOTICE_LOG_LENGTH),
    ];
  }

  async get(id: string): Promise<Replay | null> {
    const fields = await this.redis.client.hgetall(this.keys.replay(id));
    if (!fields['request']) return null;
    const request = JSON.parse(fields['request']) as Pick<
      Replay,
      'id' | 'subscriptionId' | 'tenant' | 'from' | 'to'
    >;
    return {
      ...request,
      status: (fields['status'] ?? 'requested') as ReplayStatus,
      requestedAt: fields['requestedAt'] ?? '',
      startedAt: fields['startedAt'] ?? null,
      finishedAt: fields['finishedAt'] ?? null,
      error: fields['error'] ?? null,
      restarts: Number(fields['restarts'] ?? 0),
      progress: {
        scanned: Number(fields['scanned'] ?? 0),
        matched: Number(fields['matched'] ?? 0),
        delivered: Number(fields['delivered'] ?? 0),
        deadLettered: Number(fields['deadLettered'] ?? 0),
      },
    };
  }

  /** The subscription's replays, oldest first. */
  async list(subscriptionId: string): Promise<Replay[]> {
    const ids = await this.redis.client.zrange(
      this.keys.subscriptionReplays(subscriptionId),
      0,
      -1,
    );
    const replays = await Promise.all(ids.map((id) => this.get(id)));
    return replays.filter((replay): replay is Replay => replay !== null);
  }

  /**
   * Takes the oldest queued replay this engine instance may run (moved atomically to the claimed
   * list, so two instances never run the same one) and marks it running under a lease of
   * `leaseMs`, which the engine renews while it works; null when none waits or may run yet.
   * Across all instances a subscription runs one replay at a time and a tenant at most
   * `perTenant`: the others wait in the queue, so neither a subscription's long replay (a slow
   * endpoint, a low `maxPerSecond`) nor one tenant's many replays hold up everyone else's.
   * The answer carries the claim's token, which every write under the claim names.
   */
  async claim(
    leaseMs = REPLAY_LEASE_MS,
    perTenant = DEFAULT_REPLAYS_PER_TENANT,
  ): Promise<ClaimedReplay | null> {
    const token = newClaimToken();
    const id = (await this.redis.client.eval(
      CLAIM_SCRIPT,
      2,
      this.keys.replayQueue(),
      this.keys.replayClaimed(),
      this.keys.replay(''),
      new Date().toISOString(),
      Date.now() + leaseMs,
      perTenant,
      CLAIM_LOOKAHEAD,
      token,
    )) as string | null;
    const replay = id ? await this.get(id) : null;
    return replay ? { ...replay, token } : null;
  }

  /**
   * Extends the lease of a replay this instance runs. Throws LeaseLostError once another
   * instance took it over; nothing is written then.
   */
  async renew(claim: ReplayClaim, leaseMs = REPLAY_LEASE_MS): Promise<void> {
    const result = await this.redis.client.eval(
      RENEW_SCRIPT,
      1,
      this.keys.replay(claim.id),
      claim.token,
      Date.now() + leaseMs,
    );
    throwIfTakenOver(result, claim);
  }

  /**
   * Puts claimed replays whose lease ran out (their instance was killed) back at the front of
   * the queue, counters reset, to be run again from their start; answers their ids.
   */
  async takeOverExpired(nowMs = Date.now()): Promise<string[]> {
    return takeOverExpired(
      this.redis,
      TAKE_OVER_SCRIPT,
      {
        claimed: this.keys.replayClaimed(),
        queue: this.keys.replayQueue(),
        hashPrefix: this.keys.replay(''),
      },
      nowMs,
    );
  }

  /**
   * Puts a replay this instance claimed back at the front of the queue, counters reset and
   * `restarts` counted, for the next instance that looks (or this one after a restart) to run
   * again from its start: a shutdown must not end a replay nobody asks for again (a backfill).
   * Answers false when it was no longer claimed (it ended, or its subscription was deleted);
   * throws LeaseLostError when another instance took it over.
   */
  async handBack(claim: ReplayClaim): Promise<boolean> {
    const moved = await this.redis.client.eval(
      HAND_BACK_SCRIPT,
      2,
      this.keys.replayClaimed(),
      this.keys.replayQueue(),
      this.keys.replay(''),
      claim.id,
      claim.token,
    );
    throwIfTakenOver(moved, claim);
    return moved === 1;
  }

  /**
   * The end offsets a replay without `to` reads up to: `ends` the first time it is asked (its
   * first run), the first run's ever after, so a replay run again after a take-over or a
   * hand-back reads the same range rather than up to a later end. Throws LeaseLostError when
   * another instance took the replay over.
   */
  async firstEnds(claim: ReplayClaim, ends: readonly ReplayEnd[]): Promise<ReplayEnd[]> {
    const saved = (await this.redis.client.eval(
      FIRST_ENDS_SCRIPT,
      1,
      this.keys.replay(claim.id),
      claim.token,
      JSON.stringify(ends),
    )) as string | number | null;
    throwIfTakenOver(saved, claim);
    return typeof saved === 'string' ? (JSON.parse(saved) as ReplayEnd[]) : [...ends];
  }

  /**
   * Adds to the replay's counters. Throws LeaseLostError when another instance took the replay
   * over: its counters are that run's now.
   */
  async addProgress(claim: ReplayClaim, delta: Partial<ReplayProgress>): Promise<void> {
    const increments = PROGRESS_FIELDS.flatMap((field) => {
      const by = delta[field];
      return by ? [field, String(by)] : [];
    });
    if (increments.length === 0) return;
    const result = await this.redis.client.eval(
      ADD_PROGRESS_SCRIPT,
      1,
      this.keys.replay(claim.id),
      claim.token,
      ...increments,
    );
    throwIfTakenOver(result, claim);
  }

  /**
   * Ends a claimed replay. Throws LeaseLostError when another instance took it over: that
   * instance runs it and ends it.
   */
  async finish(
    claim: ReplayClaim,
    outcome: { status: 'completed' | 'failed' | 'cancelled'; error?: string },
  ): Promise<void> {
    const result = await this.redis.client.eval(
      FINISH_SCRIPT,
      2,
      this.keys.replay(claim.id),
      this.keys.replayClaimed(),
      claim.token,
      claim.id,
      'status',
      outcome.status,
      'finishedAt',
      new Date().toISOString(),
      ...(outcome.error !== undefined ? ['error', outcome.error] : []),
    );
    throwIfTakenOver(result, claim);
  }
}

/** A fenced script's -1: the claim no longer holds the replay. */
function throwIfTakenOver(result: unknown, claim: ReplayClaim): void {
  if (result === -1) throw new LeaseLostError('replay', claim.id);
}
