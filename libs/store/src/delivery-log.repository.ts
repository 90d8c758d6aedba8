import type { RedisConnection } from './redis.connection';
import type { StoreKeys } from './store.keys';

export type AttemptStatus = 'succeeded' | 'failed';
export const ATTEMPT_STATUSES: readonly AttemptStatus[] = ['succeeded', 'failed'];

/** One attempt to deliver one event to one subscription, as the engine (or a test ping) saw it. */
export interface DeliveryAttempt {
  readonly eventId: string;
  readonly type: string;
  /** 1 for the first send of this event to this subscription. */
  readonly attempt: number;
  /** When the attempt started (RFC 3339). */
  readonly at: string;
  readonly status: AttemptStatus;
  /** The HTTP status, or null when no response came (timeout, refused, network). */
  readonly statusCode: number | null;
  readonly durationMs: number;
  /** Why it failed without a response, or what the failure was (`timeout: …`); null on success. */
  readonly error: string | null;
  /** The first 2 KiB of the response body. */
  readonly responseBody: string | null;
  readonly replay: boolean;
  /** A test ping (`POST /v1/subscriptions/{id}/test`) rather than an event from Kafka. */
  readonly test: boolean;
}

export interface LoggedAttempt extends DeliveryAttempt {
  /** Position in the log; also the paging cursor. */
  readonly id: string;
}

/** Longest response body kept per attempt, in characters (SPEC §5: the first 2 KiB). */
export const MAX_LOGGED_BODY = 2048;
/** Default number of attempts kept per subscription (approximately: Redis trims lazily). */
export const DEFAULT_DELIVERY_LOG_LENGTH = 1000;
const SCAN_CHUNK = 200;

// KEYS[1] the log, KEYS[2] the subscription record; ARGV[1] the log's cap, then one serialized
// attempt each, oldest first. The last entry's id; false, with nothing written, once the
// subscription is deleted: a late write (attempts in flight when it was deleted) would bring
// back a log no one reads or deletes.
const APPEND = `
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
local id = false
for i = 2, #ARGV do
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'attempt', ARGV[i])
end
return id`;

function serializeAttempt(attempt: DeliveryAttempt): string {
  const body = attempt.responseBody;
  return JSON.stringify(
    body === null || body.length <= MAX_LOGGED_BODY
      ? attempt
      : { ...attempt, responseBody: cutAt(body, MAX_LOGGED_BODY) },
  );
}

/** `text`'s first `max` UTF-16 units, one fewer where that would split a surrogate pair. */
function cutAt(text: string, max: number): string {
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/**
 * The per-subscription delivery attempt log: a capped Redis stream, newest last. Listing reads
 * it newest first with an optional status filter; the cap bounds the work a filtered page does.
 */
export class DeliveryLogRepository {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
    /** Attempts kept per subscription; default 1000. */
    private readonly maxLength = DEFAULT_DELIVERY_LOG_LENGTH,
  ) {}

  /** Appends one attempt: its entry id, or '' when the subscription is deleted (not written). */
  async append(subscriptionId: string, attempt: DeliveryAttempt): Promise<string> {
    return (await this.write(subscriptionId, [serializeAttempt(attempt)])) ?? '';
  }

  /**
   * Appends attempts in order in one round trip (one script), the way the delivery engine
   * writes them: at thousands a second, a command each was a real share of its CPU. Only the
   * newest `maxLength` are written; older ones would be trimmed at once anyway. Nothing once the
   * subscription is deleted.
   */
  async appendMany(subscriptionId: string, attempts: readonly DeliveryAttempt[]): Promise<void> {
    if (attempts.length === 0) return;
    const kept = attempts.length > this.maxLength ? attempts.slice(-this.maxLength) : attempts;
    await this.write(subscriptionId, kept.map(serializeAttempt));
  }

  /** Appends serialized attempts in one script: the last entry's id, null when not written. */
  private async write(subscriptionId: string, entries: string[]): Promise<string | null> {
    return (await this.redis.client.eval(
      APPEND,
      2,
      this.keys.deliveryLog(subscriptionId),
      this.keys.subscription(subscriptionId),
      this.maxLength,
      ...entries,
    )) as string | null;
  }

  /** Newest first; `cursor` is the `id` of the last attempt of the previous page. */
  async list(
    subscriptionId: string,
    options: { status?: AttemptStatus; limit: number; cursor?: string | null },
  ): Promise<{ items: LoggedAttempt[]; nextCursor: string | null }> {
    const key = this.keys.deliveryLog(subscriptionId);
    const items: LoggedAttempt[] = [];
    let end = options.cursor ? `(${options.cursor}` : '+';
    for (;;) {
      const entries = await this.redis.client.xrevrange(key, end, '-', 'COUNT', SCAN_CHUNK);
      for (const [id, fields] of entries) {
        const attempt = JSON.parse(fields[1] ?? '{}') as DeliveryAttempt;
        if (options.status === undefined || attempt.status === options.status) {
          items.push({ id, ...attempt });
          if (items.length === options.limit) {
            const more = await this.redis.client.xrevrange(key, `(${id}`, '-', 'COUNT', 1);
            return { items, nextCursor: more.length > 0 ? id : null };
          }
        }
      }
      if (entries.length < SCAN_CHUNK) return { items, nextCursor: null };
      end = `(${entries[entries.length - 1]![0]}`;
    }
  }
}
