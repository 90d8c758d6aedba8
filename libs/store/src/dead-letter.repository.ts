import { takeOverExpired, takeOverScript } from './leased-queue';
import type { RedisConnection } from './redis.connection';
import { newSortableId } from './sortable-id';
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

/** A request to deliver dead letters again: some ids, or all not yet redriven (`ids` null). */
export interface RedriveRequest {
  readonly id: string;
  readonly subscriptionId: string;
  readonly tenant: string;
  readonly ids: readonly string[] | null;
  readonly requestedAt: string;
}

/** How long a redrive claim holds without renewal; the engine renews it while it works. */
export const REDRIVE_LEASE_MS = 30_000;

// KEYS: queue, claimed list. ARGV: redrive hash key prefix, lease end (ms). Moves the oldest
// queued redrive to the claimed list under a lease; skips ids whose request is gone.
const CLAIM_REDRIVE_SCRIPT = `
while true do
  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not id then return false end
  local hash = ARGV[1] .. id
  local request = redis.call('HGET', hash, 'request')
  if request then
    redis.call('HSET', hash, 'leaseUntil', ARGV[2])
    return request
  end
  redis.call('LREM', KEYS[2], 0, id)
end`;

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
 * Dead letters per subscription (a hash by id plus an id-ordered index for paging) and redrive
 * requests: stored, queued for the engine, and announced with a notice.
 */
export class DeadLetterRepository {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
  ) {}

  async add(input: NewDeadLetter): Promise<DeadLetter> {
    const letter: DeadLetter = {
      ...input,
      id: newSortableId(DEAD_LETTER_ID_PREFIX),
      redrivenAt: null,
      redriveId: null,
    };
    await this.redis.client
      .multi()
      .hset(this.keys.deadLetters(input.subscriptionId), letter.id, JSON.stringify(letter))
      .zadd(this.keys.deadLetterIndex(input.subscriptionId), 0, letter.id)
      .exec();
    return letter;
  }

  async get(subscriptionId: string, ids: readonly string[]): Promise<DeadLetter[]> {
    if (ids.length === 0) return [];
    const rows = await this.redis.client.hmget(this.keys.deadLetters(subscriptionId), ...ids);
    return rows.flatMap((raw) => (raw ? [JSON.parse(raw) as DeadLetter] : []));
  }

  /** Oldest first; `cursor` is the id of the last letter of the previous page. */
  async list(
    subscriptionId: string,
    options: { limit: number; cursor?: string | null },
  ): Promise<{ items: DeadLetter[]; nextCursor: string | null }> {
    const ids = await this.redis.client.zrange(
      this.keys.deadLetterIndex(subscriptionId),
      options.cursor ? `(${options.cursor}` : '-',
      '+',
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

  /** Records that a redrive handed these letters back to the engine. */
  async markRedriven(
    subscriptionId: string,
    ids: readonly string[],
    redriveId: string,
    at: Date = new Date(),
  ): Promise<void> {
    const letters = await this.get(subscriptionId, ids);
    if (letters.length === 0) return;
    const fields = letters.flatMap((letter) => [
      letter.id,
      JSON.stringify({ ...letter, redrivenAt: at.toISOString(), redriveId }),
    ]);
    await this.redis.client.hset(this.keys.deadLetters(subscriptionId), ...fields);
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
   * engine renews while it works; null when none is waiting.
   */
  async claimRedrive(
    nowMs = Date.now(),
    leaseMs = REDRIVE_LEASE_MS,
  ): Promise<RedriveRequest | null> {
    const raw = (await this.redis.client.eval(
      CLAIM_REDRIVE_SCRIPT,
      2,
      this.keys.redriveQueue(),
      this.keys.redriveClaimed(),
      this.keys.redrive(''),
      nowMs + leaseMs,
    )) as string | null;
    return raw === null ? null : (JSON.parse(raw) as RedriveRequest);
  }

  /** Extends the lease of a redrive this instance is carrying out. */
  async renewRedrive(id: string, nowMs = Date.now(), leaseMs = REDRIVE_LEASE_MS): Promise<void> {
    await this.redis.client.hset(this.keys.redrive(id), 'leaseUntil', nowMs + leaseMs);
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

  /** Drops a claimed redrive once its letters are handed back (and marked redriven). */
  async finishRedrive(id: string): Promise<void> {
    await this.redis.client
      .multi()
      .lrem(this.keys.redriveClaimed(), 0, id)
      .del(this.keys.redrive(id))
      .exec();
  }
}
