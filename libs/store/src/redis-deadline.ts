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

/**
 * Why a request's Redis call was answered 503: `timeout`, it was issued and Redis did not answer
 * within the deadline (the command stays queued in the client until Redis answers); `error`, it
 * failed (Redis answered an error, or the connection failed it); `refused`, it was not issued at
 * all because the circuit was open (Redis disconnected, or a call missed its deadline and Redis
 * has not answered since).
 */
export const REDIS_UNAVAILABLE_REASONS = ['timeout', 'error', 'refused'] as const;
export type RedisUnavailableReason = (typeof REDIS_UNAVAILABLE_REASONS)[number];

/** Default `probeIntervalMs`: the least time between two probes of an open circuit. */
export const DEFAULT_REDIS_PROBE_INTERVAL_MS = 1000;

export interface RedisDeadlineOptions<Operation extends string> {
  /** The longest wait for one call, in ms. */
  readonly timeoutMs: number;
  /** `Retry-After` of the 503, in seconds. */
  readonly retryAfterSeconds: number;
  /** The code and detail of the 503 problem (`ingest.unavailable`, ...). */
  readonly problem: { readonly code: string; readonly detail: string };
  /** Counts a call given up on or refused (each app's own metric). */
  readonly countUnavailable: (operation: Operation, reason: RedisUnavailableReason) => void;
  readonly logger: Logger;
  /**
   * While the circuit is open, the least time in ms after a probe (PING) that failed before the
   * next one is sent; one that is merely unanswered stays the only one. Default 1000.
   */
  readonly probeIntervalMs?: number;
}

export interface RedisCallOptions<T> {
  /**
   * False when the call will not reach Redis this time (a key answered from memory, an event
   * without an id): it then runs even while the circuit is open. Default true.
   */
  needsRedis?: boolean;
  /** Hears what a call given up on answered after all, to undo it. */
  abandoned?: (late: T) => void;
}

/** An open circuit: since when, and how many calls it refused. */
interface OpenCircuit {
  readonly since: number;
  refused: number;
}

/**
 * Bounds how long a request waits for Redis, and how much it leaves queued while Redis is away.
 *
 * The store's client queues commands for as long as Redis is away (right for background work):
 * while disconnected in its offline queue, while Redis hangs with the connection up in its
 * command queue. Without a bound an HTTP request would wait for the whole outage; here it is
 * answered 503 with `Retry-After` after `timeoutMs` instead (log line `gave up waiting for
 * Redis`). That alone would still leave one command queued per request, all run at once when
 * Redis returns; so it is also a circuit breaker. Once a call misses its deadline, or the
 * connection is not ready, the circuit opens (log line `Redis circuit opened`): every call that
 * needs Redis is refused at once with the same 503, never issued, until Redis answers one PING
 * (at most one in flight; after a PING fails, the next after `probeIntervalMs`) or any call
 * issued earlier. Then it closes (log line `Redis circuit closed`, with how many calls it
 * refused). The app's metric counts every 503 by operation and reason (RedisUnavailableReason).
 */
export class RedisDeadline<Operation extends string = string> {
  private circuit: OpenCircuit | null = null;
  private probing = false;
  private lastProbeFailedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly redis: RedisConnection,
    private readonly options: RedisDeadlineOptions<Operation>,
  ) {}

  /** True while calls that need Redis are refused without being issued. */
  get circuitOpen(): boolean {
    return this.circuit !== null;
  }

  /**
   * Runs `call`, which talks to Redis. Rejects with RedisUnavailableError when the circuit is
   * open, or Redis does not answer within the deadline or answers with an error; a HeraldError of
   * the call's own (an unknown API key, a missing subscription) passes through.
   */
  run<T>(
    operation: Operation,
    call: () => Promise<T>,
    options: RedisCallOptions<T> = {},
  ): Promise<T> {
    const needsRedis = options.needsRedis ?? true;
    if (needsRedis) {
      const { status } = this.redis.client;
      if (this.circuit === null && status !== 'ready')
        this.openCircuit(operation, `the Redis connection is ${status}`);
      if (this.circuit !== null) return Promise.reject(this.refuse(operation, this.circuit));
    }
    const { timeoutMs } = this.options;
    return new Promise<T>((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        reject(
          this.giveUp(
            operation,
            new Error(`Redis did not answer within ${timeoutMs} ms`),
            'timeout',
            true,
          ),
        );
        this.openCircuit(operation, `a call missed its ${timeoutMs} ms deadline`);
      }, timeoutMs);
      const settled = (async () => call())();
      settled.then(
        (value) => {
          if (needsRedis) this.answered();
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
          reject(error instanceof HeraldError ? error : this.giveUp(operation, error, 'error'));
        },
      );
    });
  }

  private giveUp(
    operation: Operation,
    cause: unknown,
    reason: RedisUnavailableReason,
    stillPending = false,
  ): RedisUnavailableError {
    const { timeoutMs } = this.options;
    this.options.countUnavailable(operation, reason);
    this.options.logger.warn(
      { err: cause, operation, reason, timeoutMs, redis: this.redis.client.status },
      'gave up waiting for Redis',
    );
    return this.unavailable(cause, stillPending);
  }

  /** Not issued: not logged one by one (the circuit's closing line counts them). */
  private refuse(operation: Operation, circuit: OpenCircuit): RedisUnavailableError {
    circuit.refused++;
    this.options.countUnavailable(operation, 'refused');
    this.probe();
    return this.unavailable(new Error('the Redis circuit is open: not asked'), false);
  }

  private unavailable(cause: unknown, stillPending: boolean): RedisUnavailableError {
    const { retryAfterSeconds, problem } = this.options;
    return new RedisUnavailableError(
      problem.code,
      problem.detail,
      retryAfterSeconds,
      cause,
      stillPending,
    );
  }

  private openCircuit(operation: Operation, why: string): void {
    if (this.circuit !== null) return;
    this.circuit = { since: Date.now(), refused: 0 };
    this.options.logger.warn(
      { operation, why, redis: this.redis.client.status },
      'Redis circuit opened: calls that need Redis are refused until it answers',
    );
    this.probe();
  }

  /**
   * One PING at a time while the circuit is open. While Redis hangs or reconnects it waits in
   * the client's queue like any command, so it is the only one the circuit leaves there; it is
   * answered as soon as Redis is back. One that fails (the connection was closed for good) is
   * sent again on a later refusal, at most once per `probeIntervalMs`.
   */
  private probe(): void {
    const interval = this.options.probeIntervalMs ?? DEFAULT_REDIS_PROBE_INTERVAL_MS;
    if (this.probing || Date.now() - this.lastProbeFailedAt < interval) return;
    this.probing = true;
    this.redis.client.ping().then(
      () => {
        this.probing = false;
        this.answered();
      },
      () => {
        // Failed, not unanswered: the circuit stays open and a later refusal probes again.
        this.probing = false;
        this.lastProbeFailedAt = Date.now();
      },
    );
  }

  /** Redis answered a command: close the circuit, unless the connection went away since. */
  private answered(): void {
    const circuit = this.circuit;
    if (circuit === null || this.redis.client.status !== 'ready') return;
    this.circuit = null;
    this.options.logger.info(
      { refused: circuit.refused, openMs: Date.now() - circuit.since },
      'Redis circuit closed: Redis answers again',
    );
  }
}
