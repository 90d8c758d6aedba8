import { Counter } from 'prom-client';
import type { Logger, MetricsRegistry } from '@herald/observability';
import { RedisDeadline, type RedisConnection } from '@herald/store';
import type { SubscriptionsConfig } from '../subscriptions/subscriptions.config';

/**
 * What a request was waiting for on Redis when it gave up: an API-key lookup, a read, a change,
 * or the per-status counts of a metrics scrape.
 */
export type ApiRedisOperation = 'authenticate' | 'read' | 'write' | 'count';

/** The bound on every Redis call a request of this API makes (see RedisDeadline). */
export type ApiRedisDeadline = RedisDeadline<ApiRedisOperation>;

/**
 * The 503 of a request Redis did not answer in time. A call is refused unsent while Redis is
 * disconnected or the circuit is open, so a change waits only on a Redis that stopped answering
 * with the change in hand: that one may still be made when Redis answers (a creation is then
 * undone).
 */
export const API_REDIS_UNAVAILABLE_PROBLEM = {
  code: 'store.unavailable',
  detail:
    'Redis, which holds subscriptions and API keys, did not answer in time. Retry later; a change answered with this may still be made once Redis answers (a creation is then undone), so read it back before repeating it',
};

/**
 * The API's RedisDeadline (with its circuit breaker), counting what it gives up on or refuses in
 * `herald_subscription_api_redis_unavailable_total{operation,reason}`.
 */
export function createApiRedisDeadline(
  redis: RedisConnection,
  config: SubscriptionsConfig,
  metrics: MetricsRegistry,
  logger: Logger,
): ApiRedisDeadline {
  const unavailable = new Counter({
    name: 'herald_subscription_api_redis_unavailable_total',
    help: 'Redis calls of subscription-api requests given up on (reason timeout: slower than SUBSCRIPTION_API_REDIS_TIMEOUT_MS; error) or refused unsent while Redis is disconnected or has not answered since one timed out (reason refused), answered 503',
    labelNames: ['operation', 'reason'],
    registers: [metrics.registry],
  });
  return new RedisDeadline<ApiRedisOperation>(redis, {
    timeoutMs: config.redisTimeoutMs,
    retryAfterSeconds: config.redisRetryAfterSeconds,
    problem: API_REDIS_UNAVAILABLE_PROBLEM,
    countUnavailable: (operation, reason) => unavailable.inc({ operation, reason }),
    logger,
  });
}
