import { Counter, Gauge } from 'prom-client';
import type { MetricsRegistry } from '@herald/observability';
import {
  RedisUnavailableError,
  SUBSCRIPTION_STATUSES,
  type SubscriptionRepository,
} from '@herald/store';
import type { ApiRedisDeadline } from '../http/redis-deadline';

/**
 * `herald_subscriptions{status}`: read from the store's per-status counts at scrape time, so
 * every instance reports the same totals whoever made the change. While Redis does not answer
 * the scrape goes on without it (no samples rather than stale ones, and a waiting scrape would
 * hide the other metrics, the Redis one among them).
 */
export function registerSubscriptionGauge(
  metrics: MetricsRegistry,
  repository: SubscriptionRepository,
  redis: ApiRedisDeadline,
): void {
  new Gauge({
    name: 'herald_subscriptions',
    help: 'Subscriptions by status, across all tenants',
    labelNames: ['status'],
    registers: [metrics.registry],
    async collect() {
      let counts;
      try {
        counts = await redis.run('count', () => repository.countByStatus());
      } catch (error) {
        if (!(error instanceof RedisUnavailableError)) throw error;
        this.reset();
        return;
      }
      for (const status of SUBSCRIPTION_STATUSES) this.set({ status }, counts[status]);
    },
  });
}

/**
 * What happened to a change of a subscription whose stored secrets do not open: `kept` (it left
 * the secrets alone and was saved with the sealed value as stored), `replaced` (a rotation put a
 * new signing secret in their place), `refused` (it needed them: 409).
 */
export type UnreadableSecretsOutcome = 'kept' | 'replaced' | 'refused';

/** `herald_subscription_api_unreadable_secrets_total{outcome}`; returns what counts one. */
export function registerUnreadableSecretsCounter(
  metrics: MetricsRegistry,
): (outcome: UnreadableSecretsOutcome) => void {
  const counter = new Counter({
    name: 'herald_subscription_api_unreadable_secrets_total',
    help: 'Changes of subscriptions whose stored secrets do not open, by outcome: kept (saved, the sealed value left as stored), replaced (a rotation replaced them), refused (they were needed: 409)',
    labelNames: ['outcome'],
    registers: [metrics.registry],
  });
  return (outcome) => counter.inc({ outcome });
}
