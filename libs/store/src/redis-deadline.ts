import { HeraldError } from '@herald/errors';
import type { Logger } from '@herald/observability';
import type { RedisConnection } from './redis.connection';

/**
 * Redis did not answer a request's call in time, or is disconnected: answered 503 with
 * `Retry-After`. Each app names its own code and detail (what it keeps in Redis, what the caller
 * should do).
 */
export class RedisUnavailableError extends HeraldError {
  constructor(
    code: string,
    message: string,
    retryAfterSeconds: number,
    cause: unknown,
    /** The call was given up on while Redis held it: it may still run when Redis answers. */
    readonly stillPending = false,
  ) {
    super(code, message, { retryable: true, retryAfterSeconds, cause });
  }
}

export interface RedisDeadlineOptions<Operation extends string> {
  /** The longest wait for one call, in ms. */
  readonly timeoutMs: number;
  /** `Retry-After` of the 503, in seconds. */
  readonly retryAfterSeconds: number;
  /** The code and detail of the 503 problem (`ingest.unavailable`, ...). */
  readonly problem: { readonly code: string; readonly detail: string };
  /** Counts a call given up on (each app's own metric). */
  readonly countUnavailable: (operation: Operation) => void;
  readonly logger: Logger;
}

export interface RedisCallOptions<T> {
  /**
   * Give up at once while Redis is disconnected instead of queueing the call: ioredis holds
   * commands until it reconnects, however long that takes, and a write sent then would be
   * applied for a request that was long since answered.
   */
  refuseWhileDisconnected?: boolean;
  /** Hears what a call given up on answered after all, to undo it. */
  abandoned?: (late: T) => void;
}

/**
 * Bounds how long a request waits for Redis. The store's client retries commands for as long as
 * Redis is away (right for background work), so without a bound an HTTP request would wait for
 * the whole outage; here it is answered 503 with `Retry-After` after `timeoutMs` instead (log
 * line `gave up waiting for Redis`, the app's metric counts it by operation).
 */
export class RedisDeadline<Operation extends string = string> {
  constructor(
    private readonly redis: RedisConnection,
    private readonly options: RedisDeadlineOptions<Operation>,
  ) {}

  /**
   * Runs `call`, which talks to Redis. Rejects with RedisUnavailableError when Redis does not
   * answer within the deadline or answers with an error; a HeraldError of the call's own (an
   * unknown API key, a missing subscription) passes through.
   */
  run<T>(
    operation: Operation,
    call: () => Promise<T>,
    options: RedisCallOptions<T> = {},
  ): Promise<T> {
    if (options.refuseWhileDisconnected && this.redis.client.status !== 'ready')
      return Promise.reject(
        this.giveUp(operation, new Error(`the Redis connection is ${this.redis.client.status}`)),
      );
    const { timeoutMs } = this.options;
    return new Promise<T>((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        reject(
          this.giveUp(operation, new Error(`Redis did not answer within ${timeoutMs} ms`), true),
        );
      }, timeoutMs);
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
    operation: Operation,
    cause: unknown,
    stillPending = false,
  ): RedisUnavailableError {
    const { timeoutMs, retryAfterSeconds, problem } = this.options;
    this.options.countUnavailable(operation);
    this.options.logger.warn(
      { err: cause, operation, timeoutMs, redis: this.redis.client.status },
      'gave up waiting for Redis',
    );
    return new RedisUnavailableError(
      problem.code,
      problem.detail,
      retryAfterSeconds,
      cause,
      stillPending,
    );
  }
}
