import { HeraldError } from '@herald/errors';
import type { Logger } from '@herald/observability';
import type { RedisConnection } from '@herald/store';
import { RedisUnavailableError } from './ingest.errors';
import type { IngestMetrics, RedisOperation } from './ingest.metrics';

export interface RedisCallOptions<T> {
  /**
   * Give up at once while Redis is disconnected instead of queueing the call: ioredis holds
   * commands until it reconnects, however long that takes, and a reservation sent then would
   * block its ids for a request that was long since answered.
   */
  refuseWhileDisconnected?: boolean;
  /** Hears what a call given up on answered after all, to undo it. */
  abandoned?: (late: T) => void;
}

/**
 * Bounds how long an ingest request waits for Redis. The store's client retries commands for as
 * long as Redis is away (right for background work), so without a bound a producer would wait
 * for the whole outage; here it is answered 503 with `Retry-After` after `timeoutMs` instead.
 */
export class RedisDeadline {
  constructor(
    private readonly redis: RedisConnection,
    /** The longest wait, in ms (`HERALD_INGEST_REDIS_TIMEOUT_MS`). */
    private readonly timeoutMs: number,
    private readonly retryAfterSeconds: number,
    private readonly metrics: IngestMetrics,
    private readonly logger: Logger,
  ) {}

  /**
   * Runs `call`, which talks to Redis. Rejects with RedisUnavailableError when Redis does not
   * answer within the deadline or answers with an error; a HeraldError of the call's own (an
   * unknown API key) passes through.
   */
  run<T>(
    operation: RedisOperation,
    call: () => Promise<T>,
    options: RedisCallOptions<T> = {},
  ): Promise<T> {
    if (options.refuseWhileDisconnected && this.redis.client.status !== 'ready')
      return Promise.reject(
        this.giveUp(operation, new Error(`the Redis connection is ${this.redis.client.status}`)),
      );
    return new Promise<T>((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        reject(
          this.giveUp(
            operation,
            new Error(`Redis did not answer within ${this.timeoutMs} ms`),
            true,
          ),
        );
      }, this.timeoutMs);
      const settled = (async () => call())();
      settled.then(
        (value) => {
          if (late) options.abandoned?.(value);
          else {
            clearTimeout(timer);
            resolve(value);
          }
        },
        (error: unknown) => {
          // Given up on already: the caller was answered, and the call left nothing to undo.
          if (late) return;
          clearTimeout(timer);
          reject(error instanceof HeraldError ? error : this.giveUp(operation, error));
        },
      );
    });
  }

  private giveUp(
    operation: RedisOperation,
    cause: unknown,
    stillPending = false,
  ): RedisUnavailableError {
    this.metrics.countRedisUnavailable(operation);
    this.logger.warn(
      { err: cause, operation, timeoutMs: this.timeoutMs, redis: this.redis.client.status },
      'gave up waiting for Redis',
    );
    return new RedisUnavailableError(this.retryAfterSeconds, cause, stillPending);
  }
}
