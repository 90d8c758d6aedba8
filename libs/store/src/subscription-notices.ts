import type { Redis } from 'ioredis';
import type { RedisConnection } from './redis.connection';
import type { StoreKeys } from './store.keys';

/** What changed. Work requests (replay, redrive) are stored first; the notice only wakes the engine. */
export type SubscriptionNoticeKind =
  | 'subscription.created'
  | 'subscription.updated'
  | 'subscription.deleted'
  | 'replay.requested'
  | 'redrive.requested';

/**
 * One change, numbered: `seq` grows by exactly one per notice across the whole store, so a
 * listener that sees 7 after 5 knows it missed one. A notice names what changed, never the
 * new state: the listener reads the record (or its absence) from Redis, so a late or repeated
 * notice is harmless.
 */
export interface SubscriptionNotice {
  readonly seq: number;
  readonly kind: SubscriptionNoticeKind;
  readonly subscriptionId: string;
  readonly tenant: string;
  /** The subscription's version after the change (subscription.* notices). */
  readonly version?: number;
  /** The replay or redrive id (work notices). */
  readonly requestId?: string;
}

/** How many notices the log keeps for catching up (approximately; Redis trims lazily). */
export const NOTICE_LOG_LENGTH = 10_000;

/**
 * Lua that numbers, logs and publishes one notice; prepended to every script that changes a
 * subscription so the change and its notice happen atomically. KEYS/ARGV positions are the
 * caller's; it passes them to `herald_notify`.
 */
export const NOTIFY_LUA = `
local function herald_notify(seq_key, log_key, channel, max_len, notice)
  local seq = redis.call('INCR', seq_key)
  notice['seq'] = seq
  local encoded = cjson.encode(notice)
  redis.call('XADD', log_key, 'MAXLEN', '~', max_len, seq .. '-0', 'notice', encoded)
  redis.call('PUBLISH', channel, encoded)
  return seq
end
`;

const PUBLISH_SCRIPT = `${NOTIFY_LUA}
local notice = cjson.decode(ARGV[3])
return herald_notify(KEYS[1], KEYS[2], ARGV[1], ARGV[2], notice)
`;

/** Parses one published or logged notice; null for anything malformed. */
export function parseNotice(text: string): SubscriptionNotice | null {
  try {
    const value = JSON.parse(text) as Partial<SubscriptionNotice>;
    if (
      typeof value.seq !== 'number' ||
      typeof value.kind !== 'string' ||
      typeof value.subscriptionId !== 'string' ||
      typeof value.tenant !== 'string'
    ) {
      return null;
    }
    return value as SubscriptionNotice;
  } catch {
    return null;
  }
}

export interface NoticeListenerOptions {
  /** The last sequence number the caller has applied (from `loadAll`); notices up to it are skipped. */
  readonly afterSeq: number;
  /** Called once per notice, in sequence order, never concurrently. */
  readonly onNotice: (notice: SubscriptionNotice) => void | Promise<void>;
  /**
   * Called when notices were missed and the log no longer holds them: the caller must reload
   * everything (`loadAll`) and return the sequence number the reload reflects.
   */
  readonly onResync: () => Promise<number>;
  /** Errors while catching up (Redis down); the listener tries again on the next notice. */
  readonly onError?: (error: unknown) => void;
}

export interface NoticeListener {
  /** The last sequence number applied. */
  readonly seq: number;
  close(): Promise<void>;
}

/**
 * The change-notice channel between the subscription API and the delivery engine: a pub/sub
 * channel for promptness, a sequence counter for gap detection, and a capped log to catch up
 * from after a missed message or a reconnect.
 */
export class SubscriptionNotices {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
  ) {}

  /** Numbers, logs and publishes a notice; returns its sequence number. */
  async publish(notice: Omit<SubscriptionNotice, 'seq'>): Promise<number> {
    const seq = await this.redis.client.eval(
      PUBLISH_SCRIPT,
      2,
      this.keys.subscriptionNoticeSeq(),
      this.keys.subscriptionNoticeLog(),
      this.keys.subscriptionNoticeChannel(),
      String(NOTICE_LOG_LENGTH),
      JSON.stringify(notice),
    );
    return Number(seq);
  }

  /** The sequence number of the latest notice (0 before the first). */
  async currentSeq(): Promise<number> {
    return Number((await this.redis.client.get(this.keys.subscriptionNoticeSeq())) ?? 0);
  }

  /**
   * Notices after `seq`, oldest first, up to `limit`. `complete` is false when the log has been
   * trimmed past `seq + 1`, so some notices are lost, or when the counter is below `seq`: Redis
   * lost its last writes, so the caller holds changes Redis no longer has and new notices reuse
   * its numbers. Either way the caller must reload everything.
   */
  async since(
    seq: number,
    limit = 1000,
  ): Promise<{ notices: SubscriptionNotice[]; complete: boolean }> {
    // Read the counter first: a notice published in between then shows up in the range.
    const current = await this.currentSeq();
    if (current < seq) return { notices: [], complete: false };
    const entries = await this.redis.client.xrange(
      this.keys.subscriptionNoticeLog(),
      `(${seq}-0`,
      '+',
      'COUNT',
      limit,
    );
    const notices = entries.flatMap(([, fields]) => {
      const parsed = parseNotice(fields[1] ?? '');
      return parsed ? [parsed] : [];
    });
    const first = notices[0];
    const complete = current === seq || (first !== undefined && first.seq === seq + 1);
    return { notices, complete };
  }

  /**
   * Listens on a separate connection (pub/sub mode takes a connection over). Missed notices —
   * a gap in the sequence, or a reconnect — are read back from the log; when the log no longer
   * has them, or the counter went back below the listener's (Redis lost its last writes),
   * `onResync` reloads.
   */
  async listen(options: NoticeListenerOptions): Promise<NoticeListener> {
    const subscriber: Redis = this.redis.client.duplicate({ enableAutoPipelining: false });
    subscriber.on('error', () => undefined); // surfaced through the main connection's readiness
    let lastSeq = options.afterSeq;
    let chain = Promise.resolve();
    let closed = false;

    const apply = async (notice: SubscriptionNotice) => {
      if (notice.seq <= lastSeq) {
        // Mostly one already read back from the log. But the counter never goes down unless
        // Redis lost its last writes: then every new notice reuses a number already applied.
        if ((await this.currentSeq()) < lastSeq) await catchUp();
        return;
      }
      if (notice.seq > lastSeq + 1) await catchUp();
      if (notice.seq <= lastSeq) return;
      await options.onNotice(notice);
      lastSeq = notice.seq;
    };
    const catchUp = async () => {
      for (;;) {
        const { notices, complete } = await this.since(lastSeq);
        if (!complete) {
          lastSeq = await options.onResync();
          return;
        }
        for (const notice of notices) {
          await options.onNotice(notice);
          lastSeq = notice.seq;
        }
        if (notices.length === 0) return;
      }
    };
    const enqueue = (work: () => Promise<void>) => {
      chain = chain.then(work).catch((error: unknown) => options.onError?.(error));
    };

    subscriber.on('message', (_channel: string, message: string) => {
      const notice = parseNotice(message);
      if (notice && !closed) enqueue(() => apply(notice));
    });
    // After a reconnect ioredis resubscribes by itself; what was published meanwhile is in the log.
    subscriber.on('ready', () => {
      if (!closed) enqueue(catchUp);
    });
    await subscriber.subscribe(this.keys.subscriptionNoticeChannel());
    enqueue(catchUp); // anything published between the caller's load and this subscription

    return {
      get seq() {
        return lastSeq;
      },
      async close() {
        closed = true;
        await chain;
        subscriber.disconnect();
      },
    };
  }
}
