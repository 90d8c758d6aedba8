import { HELD_BY_LUA, newClaimToken, takeOverExpired, takeOverScript } from './leased-queue';
import type { RedisConnection } from './redis.connection';
import { newSortableId, sortableIdBefore } from './sortable-id';
import { LeaseLostError } from './store.errors';
import type { StoreKeys } from './store.keys';
import { NOTICE_LOG_LENGTH, NOTIFY_LUA } from './subscription-notices';

/** One delivery given up on after its last retry, with what is needed to send it again. */
export interface DeadLetter {
  readonly id: string;
  readonly subscriptionId: string;
  readonly eventId: string;
  readonly type: string;
  /** Where the event sits in Kafka, so a redrive can read it back. */
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly attempts: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly firstAttemptAt: string;
  readonly deadLetteredAt: string;
  /** Set once a redrive has handed it back to the engine. */
  readonly redrivenAt: string | null;
  readonly redriveId: string | null;
}

export type NewDeadLetter = Omit<DeadLetter, 'id' | 'redrivenAt' | 'redriveId'>;

/**
 * How many dead letters a subscription keeps listed, and how long: the index is for finding and
 * redriving recent ones; `herald.dlq.delivery` in Kafka keeps every letter for its own retention.
 */
export interface DeadLetterLimits {
  /** Letters kept per subscription, the newest; default 100,000. */
  readonly maxPerSubscription: number;
  /** Milliseconds a letter stays, counted from when it was dead-lettered; default 14 days. */
  readonly maxAgeMs: number;
}

export const DEFAULT_DEAD_LETTER_LIMITS: DeadLetterLimits = {
  maxPerSubscription: 100_000,
  maxAgeMs: 14 * 24 * 3600 * 1000,
};

/** Letters one trim dropped: over the cap (the oldest first), or older than the age limit. */
export interface DeadLettersTrimmed {
  readonly cap: number;
  readonly age: number;
}

/**
 * Letters one script drops at most per reason: bounds the time Redis spends in it (and Lua's
 * unpack). What is left over goes with the next add or sweep.
 */
export const TRIM_BATCH = 1000;

// KEYS: letters hash, id index. ARGV: cap, the ids too old as an exclusive lex bound ("(dlq_…"),
// batch. Answers {dropped over the cap, dropped for age}.
const TRIM_LUA = `
local function drop(ids)
  if #ids == 0 then return 0 end
  redis.call('HDEL', KEYS[1], unpack(ids))
  redis.call('ZREM', KEYS[2], unpack(ids))
  return #ids
end
local batch = tonumber(ARGV[3])
local aged = drop(redis.call('ZRANGE', KEYS[2], '-', ARGV[2], 'BYLEX', 'LIMIT', 0, batch))
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[1])
local capped = 0
if over > 0 then capped = drop(redis.call('ZRANGE', KEYS[2], 0, math.min(over, batch) - 1)) end
return {capped, aged}
`;

// As TRIM_LUA, after storing the letter: ARGV[4] its id, ARGV[5] its JSON; KEYS[3] the
// subscription record. One script, so the list never holds more than the cap, whichever
// instances add at once. Nothing is written once the subscription is deleted (false): its
// delete took the letters, and a late one would bring back keys no sweep visits again.
const ADD_SCRIPT = `
if redis.call('EXISTS', KEYS[3]) == 0 then return false end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[2], 0, ARGV[4])
${TRIM_LUA}`;

/** A request to deliver dead letters again: some ids, or all not yet redriven (`ids` null). */
export interface RedriveRequest {
  readonly id: string;
  readonly subscriptionId: string;
  readonly tenant: string;
  readonly ids: readonly string[] | null;
  readonly requestedAt: string;
}

/**
 * A redrive this instance claimed: `token` names the claim, and its renewals, its marks and its
 * finish are refused with LeaseLostError once another instance took the redrive over.
 */
export interface ClaimedRedrive extends RedriveRequest {
  readonly token: string;
}

/** What a write under a redrive's claim needs: its id and the claim's token. */
export type RedriveClaim = Pick<ClaimedRedrive, 'id' | 'token'>;

/** How long a redrive claim holds without renewal; the engine renews it while it works. */
export const REDRIVE_LEASE_MS = 30_000;

// KEYS: queue, claimed list. ARGV: redrive hash key prefix, lease end (ms), the claim's token.
// Moves the oldest queued redrive to the claimed list under a lease, held by the token; skips
// ids whose request is gone.
const CLAIM_REDRIVE_SCRIPT = `
while true do
  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not id then return false end
  local hash = ARGV[1] .. id
  local request = redis.call('HGET', hash, 'request')
  if request then
    redis.call('HSET', hash, 'leaseUntil', ARGV[2], 'owner', ARGV[3])
    return request
  end
  redis.call('LREM', KEYS[2], 0, id)
end`;

// KEYS: redrive hash. ARGV: the claim's token, lease end (ms). 1, or held_by's 0 / -1.
const RENEW_REDRIVE_SCRIPT = `${HELD_BY_LUA}
local held = held_by(KEYS[1], ARGV[1])
if held ~= 1 then return held end
redis.call('HSET', KEYS[1], 'leaseUntil', ARGV[2])
return 1`;

// KEYS: redrive hash, claimed list. ARGV: the claim's token, the id. Drops the request only
// while the token holds it: 1, or held_by's 0 (another claim finished it) / -1.
const FINISH_REDRIVE_SCRIPT = `${HELD_BY_LUA}
local held = held_by(KEYS[1], ARGV[1])
if held ~= 1 then return held end
redis.call('LREM', KEYS[2], 0, ARGV[2])
redis.call('DEL', KEYS[1])
return 1`;

// KEYS: redrive hash, claimed list, queue. ARGV: the claim's token, the id. While the token
// holds the request: back to the front of the queue, unclaimed. 1, or held_by's 0 / -1.
const HAND_BACK_REDRIVE_SCRIPT = `${HELD_BY_LUA}
local held = held_by(KEYS[1], ARGV[1])
if held ~= 1 then return held end
redis.call('LREM', KEYS[2], 0, ARGV[2])
redis.call('HDEL', KEYS[1], 'owner', 'leaseUntil')
redis.call('RPUSH', KEYS[3], ARGV[2])
return 1`;

// KEYS: letters hash, redrive hash. ARGV: the claim's token, then id, JSON, id, JSON, … Writes
// only while the token holds the redrive (else held_by's 0 / -1), and only letters still there:
// one trimmed meanwhile would otherwise come back in the hash without its index entry, never to
// go again.
const MARK_REDRIVEN_SCRIPT = `${HELD_BY_LUA}
local held = held_by(KEYS[2], ARGV[1])
if held ~= 1 then return held end
for i = 2, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1`;

// Claimed redrives whose lease ran out (their instance died, or the redrive failed half-way) go
// back to the front of the queue.
const TAKE_OVER_REDRIVES_SCRIPT = takeOverScript();

export const DEAD_LETTER_ID_PREFIX = 'dlq_';
export const REDRIVE_ID_PREFIX = 'rdr_';

// KEYS: request hash, queue, notice seq, notice log. ARGV: request JSON, id, subscription id,
// tenant, notice channel, log length.
const REQUEST_SCRIPT = `${NOTIFY_LUA}
redis.call('HSET', KEYS[1], 'request', ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[2])
return herald_notify(KEYS[3], KEYS[4], ARGV[5], ARGV[6],
  {kind = 'redrive.requested', subscriptionId = ARGV[3], tenant = ARGV[4], requestId = ARGV[2]})
`;

/**
 * Dead letters per subscription (a hash by id plus an id-ordered index for paging), kept within
 * DeadLetterLimits, and redrive requests: stored, queued for the engine, and announced with a
 * notice.
 */
export class DeadLetterRepository {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
  ) {}

  /**
   * Stores a letter and, in the same script, drops the subscription's oldest beyond `limits`
   * (up to TRIM_BATCH of each kind; `trim` takes the rest). `nowMs` dates the letter's id.
   * `letter` is null when the subscription is deleted: nothing is stored then.
   */
  async add(
    input: NewDeadLetter,
    limits: DeadLetterLimits = DEFAULT_DEAD_LETTER_LIMITS,
    nowMs: number = Date.now(),
  ): Promise<{ letter: DeadLetter | null; trimmed: DeadLettersTrimmed }> {
    const letter: DeadLetter = {
      ...input,
      id: newSortableId(DEAD_LETTER_ID_PREFIX, nowMs),
      redrivenAt: null,
      redriveId: null,
    };
    const answer = await this.redis.client.eval(
      ADD_SCRIPT,
      3,
      this.keys.deadLetters(input.subscriptionId),
      this.keys.deadLetterIndex(input.subscriptionId),
      this.keys.subscription(input.subscriptionId),
      ...trimArgs(limits, nowMs),
      letter.id,
      JSON.stringify(letter),
    );
    if (answer === null) return { letter: null, trimmed: { cap: 0, age: 0 } };
    return { letter, trimmed: trimmedOf(answer) };
  }

  /**
   * Drops the subscription's letters beyond `limits`, all of them, a batch per script: for the
   * periodic sweep (a subscription no longer dead-lettering still sheds its old letters) and
   * after a cap was lowered.
   */
  async trim(
    subscriptionId: string,
    limits: DeadLetterLimits,
    nowMs: number = Date.now(),
  ): Promise<DeadLettersTrimmed> {
    let cap = 0;
    let age = 0;
    for (;;) {
      const trimmed = trimmedOf(
        await this.redis.client.eval(
          TRIM_LUA,
          2,
          this.keys.deadLetters(subscriptionId),
          this.keys.deadLetterIndex(subscriptionId),
          ...trimArgs(limits, nowMs),
        ),
      );
      cap += trimmed.cap;
      age += trimmed.age;
      if (trimmed.cap < TRIM_BATCH && trimmed.age < TRIM_BATCH) return { cap, age };
    }
  }

  /** The id of the subscription's newest letter; null when it has none. */
  async newestId(subscriptionId: string): Promise<string | null> {
    const [id] = await this.redis.client.zrange(
      this.keys.deadLetterIndex(subscriptionId),
      '+',
      '-',
      'BYLEX',
      'REV',
      'LIMIT',
      0,
      1,
    );
    return id ?? null;
  }

  async get(subscriptionId: string, ids: readonly string[]): Promise<DeadLetter[]> {
    if (ids.length === 0) return [];
    const rows = await this.redis.client.hmget(this.keys.deadLetters(subscriptionId), ...ids);
    return rows.flatMap((raw) => (raw ? [JSON.parse(raw) as DeadLetter] : []));
  }

  /**
   * Oldest first; `cursor` is the id of the last letter of the previous page, `until` the id of
   * the last letter any page may hold (none after it: letters added since do not count).
   */
  async list(
    subscriptionId: string,
    options: { limit: number; cursor?: string | null; until?: string | null },
  ): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
    const ids = await this.redis.client.zrange(
      this.keys.deadLetterIndex(subscriptionId),
      options.cursor ? `(${options.cursor}` : '-',
      options.until ? `[${options.until}` : '+',
      'BYLEX',
      'LIMIT',
      0,
      options.limit + 1,
    );
    const pageIds = ids.slice(0, options.limit);
    return {
      items: await this.get(subscriptionId, pageIds),
      nextCursor: ids.length > options.limit ? (pageIds[pageIds.length - 1] ?? null) : null,
    };
  }

  /**
   * Records that the claimed redrive handed these letters back to the engine (those not trimmed
   * since). Throws LeaseLostError once another instance took the redrive over (or finished it);
   * nothing is written then.
   */
  async markRedriven(
    subscriptionId: string,
    ids: readonly string[],
    claim: RedriveClaim,
    at: Date = new Date(),
  ): Promise<void> {
    const letters = await this.get(subscriptionId, ids);
    if (letters.length === 0) return;
    const fields = letters.flatMap((letter) => [
      letter.id,
      JSON.stringify({ ...letter, redrivenAt: at.toISOString(), redriveId: claim.id }),
    ]);
    const result = await this.redis.client.eval(
      MARK_REDRIVEN_SCRIPT,
      2,
      this.keys.deadLetters(subscriptionId),
      this.keys.redrive(claim.id),
      claim.token,
      ...fields,
    );
    if (result !== 1) throw new LeaseLostError('redrive', claim.id);
  }

  /** Stores and queues a redrive request for the engine; returns it. */
  async requestRedrive(input: Omit<RedriveRequest, 'id' | 'requestedAt'>): Promise<RedriveRequest> {
    const request: RedriveRequest = {
      ...input,
      id: newSortableId(REDRIVE_ID_PREFIX),
      requestedAt: new Date().toISOString(),
    };
    await this.redis.client.eval(
      REQUEST_SCRIPT,
      4,
      this.keys.redrive(request.id),
      this.keys.redriveQueue(),
      this.keys.subscriptionNoticeSeq(),
      this.keys.subscriptionNoticeLog(),
      JSON.stringify(request),
      request.id,
      request.subscriptionId,
      request.tenant,
      this.keys.subscriptionNoticeChannel(),
      String(NOTICE_LOG_LENGTH),
    );
    return request;
  }

  /**
   * Takes the oldest queued redrive for this engine instance (moved atomically to the claimed
   * list, so two instances never take the same one) under a lease of `leaseMs`, which the
   * engine renews while it works; null when none is waiting. The answer carries the claim's
   * token, which its renewals, its marks and its finish name.
   */
  async claimRedrive(
    nowMs = Date.now(),
    leaseMs = REDRIVE_LEASE_MS,
  ): Promise<ClaimedRedrive | null> {
    const token = newClaimToken();
    const raw = (await this.redis.client.eval(
      CLAIM_REDRIVE_SCRIPT,
      2,
      this.keys.redriveQueue(),
      this.keys.redriveClaimed(),
      this.keys.redrive(''),
      nowMs + leaseMs,
      token,
    )) as string | null;
    return raw === null ? null : { ...(JSON.parse(raw) as RedriveRequest), token };
  }

  /**
   * Extends the lease of a redrive this instance is carrying out. Throws LeaseLostError once
   * another instance took it over (or finished it); nothing is written then.
   */
  async renewRedrive(
    claim: RedriveClaim,
    nowMs = Date.now(),
    leaseMs = REDRIVE_LEASE_MS,
  ): Promise<void> {
    const result = await this.redis.client.eval(
      RENEW_REDRIVE_SCRIPT,
      1,
      this.keys.redrive(claim.id),
      claim.token,
      nowMs + leaseMs,
    );
    if (result !== 1) throw new LeaseLostError('redrive', claim.id);
  }

  /**
   * Puts claimed redrives whose lease ran out back at the front of the queue, to be carried out
   * again (their letters may be parked twice: at least once); answers their ids.
   */
  async takeOverExpiredRedrives(nowMs = Date.now()): Promise<string[]> {
    return takeOverExpired(
      this.redis,
      TAKE_OVER_REDRIVES_SCRIPT,
      {
        claimed: this.keys.redriveClaimed(),
        queue: this.keys.redriveQueue(),
        hashPrefix: this.keys.redrive(''),
      },
      nowMs,
    );
  }

  /**
   * Gives a claimed redrive back (its instance is stopping): first in the queue again, for the
   * next instance that looks, instead of waiting out its lease (a redrive of all goes on with
   * the letters not yet marked; one of given ids runs again from its start). Throws
   * LeaseLostError when another instance took it over meanwhile.
   */
  async handBackRedrive(claim: RedriveClaim): Promise<void> {
    const result = await this.redis.client.eval(
      HAND_BACK_REDRIVE_SCRIPT,
      3,
      this.keys.redrive(claim.id),
      this.keys.redriveClaimed(),
      this.keys.redriveQueue(),
      claim.token,
      claim.id,
    );
    if (result !== 1) throw new LeaseLostError('redrive', claim.id);
  }

  /**
   * Drops a claimed redrive once its letters are handed back (and marked redriven). Throws
   * LeaseLostError when another instance took it over meanwhile: the request stays, for that
   * instance to carry out and finish.
   */
  async finishRedrive(claim: RedriveClaim): Promise<void> {
    const result = await this.redis.client.eval(
      FINISH_REDRIVE_SCRIPT,
      2,
      this.keys.redrive(claim.id),
      this.keys.redriveClaimed(),
      claim.token,
      claim.id,
    );
    if (result !== 1) throw new LeaseLostError('redrive', claim.id);
  }
}

/** The trim scripts' ARGV: cap, the lex bound of ids too old, batch. */
function trimArgs(limits: DeadLetterLimits, nowMs: number): string[] {
  return [
    String(limits.maxPerSubscription),
    `(${sortableIdBefore(DEAD_LETTER_ID_PREFIX, nowMs - limits.maxAgeMs)}`,
    String(TRIM_BATCH),
  ];
}

function trimmedOf(answer: unknown): DeadLettersTrimmed {
  const [cap, age] = answer as [number, number];
  return { cap, age };
}
