import { Gauge } from 'prom-client';
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
