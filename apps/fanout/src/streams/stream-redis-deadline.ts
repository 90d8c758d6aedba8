import type { Logger } from '@herald/observability';
import { RedisDeadline, type RedisConnection } from '@herald/store';
import type { StreamsConfig } from './streams.config';
import type { StreamsMetrics } from './streams.metrics';

/**
 * What a stream request was waiting for on Redis when it gave up: an API-key lookup (SSE, poll,
 * WebSocket upgrade), a durable subscription or its acknowledged cursor, or a cursor write (an
 * `ack`, or a `?subscription=` connect that passes a cursor).
 */
export const STREAM_REDIS_OPERATIONS = ['authenticate', 'read', 'ack'] as const;
export type StreamRedisOperation = (typeof STREAM_REDIS_OPERATIONS)[number];

/** The bound on every Redis call a stream request makes before it streams (see RedisDeadline). */
export type StreamRedisDeadline = RedisDeadline<StreamRedisOperation>;

/**
 * The 503 of a stream request Redis did not answer in time; the same `streams.unavailable` a
 * stream gets while the server starts or shuts down, so clients retry it the same way.
 */
export const STREAM_REDIS_UNAVAILABLE_PROBLEM = {
  code: 'streams.unavailable',
  detail:
    'Redis, which holds API keys, stream subscriptions and their cursors, did not answer in time. Retry later; an ack answered with this may still be stored once Redis answers',
};

/**
 * The streams' RedisDeadline (with its circuit breaker), counting what it gives up on or refuses
 * in `herald_stream_redis_unavailable_total{operation,reason}`.
 */
export function createStreamRedisDeadline(
  redis: RedisConnection,
  config: StreamsConfig,
  metrics: StreamsMetrics,
  logger: Logger,
): StreamRedisDeadline {
  return new RedisDeadline<StreamRedisOperation>(redis, {
    timeoutMs: config.redisTimeoutMs,
    retryAfterSeconds: config.redisRetryAfterSeconds,
    problem: STREAM_REDIS_UNAVAILABLE_PROBLEM,
    countUnavailable: (operation, reason) => metrics.countRedisUnavailable(operation, reason),
    logger,
  });
}
