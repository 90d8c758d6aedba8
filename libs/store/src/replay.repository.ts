import type { RedisConnection } from './redis.connection';
import { newSortableId } from './sortable-id';
import type { StoreKeys } from './store.keys';
import { NOTICE_LOG_LENGTH, NOTIFY_LUA } from './subscription-notices';

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
}

export const REPLAY_ID_PREFIX = 'rpl_';
const PROGRESS_FIELDS = ['scanned', 'matched', 'delivered', 'deadLettered'] as const;

// KEYS: replay hash, subscription's replay index, queue, notice seq, notice log.
// ARGV: request JSON, id, subscription id, tenant, requestedAt, notice channel, log length.
const REQUEST_SCRIPT = `${NOTIFY_LUA}
redis.call('HSET', KEYS[1], 'request', ARGV[1], 'status', 'requested', 'requestedAt', ARGV[5],
  'scanned', 0, 'matched', 0, 'delivered', 0, 'deadLettered', 0)
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('LPUSH', KEYS[3], ARGV[2])
return herald_notify(KEYS[4], KEYS[5], ARGV[6], ARGV[7],
  {kind = 'replay.requested', subscriptionId = ARGV[3], tenant = ARGV[4], requestId = ARGV[2]})
`;

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
    const requestedAt = new Date().toISOString();
    await this.redis.client.eval(
      REQUEST_SCRIPT,
      5,
      this.keys.replay(id),
      this.keys.subscriptionReplays(input.subscriptionId),
      this.keys.replayQueue(),
      this.keys.subscriptionNoticeSeq(),
      this.keys.subscriptionNoticeLog(),
      JSON.stringify({ ...input, id }),
      id,
      input.subscriptionId,
      input.tenant,
      requestedAt,
      this.keys.subscriptionNoticeChannel(),
      String(NOTICE_LOG_LENGTH),
    );
    return (await this.get(id))!;
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
   * Takes the oldest queued replay for this engine instance (moved atomically to the claimed
   * list, so two instances never run the same one) and marks it running; null when none waits.
   */
  async claim(): Promise<Replay | null> {
    for (;;) {
      const id = await this.redis.client.lmove(
        this.keys.replayQueue(),
        this.keys.replayClaimed(),
        'RIGHT',
        'LEFT',
      );
      if (id === null) return null;
      const key = this.keys.replay(id);
      if ((await this.redis.client.exists(key)) === 0) {
        // Its subscription was deleted after the request was queued.
        await this.redis.client.lrem(this.keys.replayClaimed(), 0, id);
        continue;
      }
      await this.redis.client.hset(key, 'status', 'running', 'startedAt', new Date().toISOString());
      return this.get(id);
    }
  }

  /** Adds to the replay's counters. */
  async addProgress(id: string, delta: Partial<ReplayProgress>): Promise<void> {
    const pipeline = this.redis.client.pipeline();
    for (const field of PROGRESS_FIELDS) {
      const by = delta[field];
      if (by) pipeline.hincrby(this.keys.replay(id), field, by);
    }
    await pipeline.exec();
  }

  /** Ends a claimed replay. */
  async finish(
    id: string,
    outcome: { status: 'completed' | 'failed' | 'cancelled'; error?: string },
  ): Promise<void> {
    const key = this.keys.replay(id);
    const pipeline = this.redis.client
      .multi()
      .hset(key, 'status', outcome.status, 'finishedAt', new Date().toISOString())
      .lrem(this.keys.replayClaimed(), 0, id);
    if (outcome.error !== undefined) pipeline.hset(key, 'error', outcome.error);
    await pipeline.exec();
  }
}
