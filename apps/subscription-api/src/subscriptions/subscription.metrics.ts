import { Gauge } from 'prom-client';
import type { MetricsRegistry } from '@herald/observability';
import { SUBSCRIPTION_STATUSES, type SubscriptionRepository } from '@herald/store';

/**
 * `herald_subscriptions{status}`: read from the store's per-status counts at scrape time, so
 * every instance reports the same totals whoever made the change.
 */
export function registerSubscriptionGauge(
  metrics: MetricsRegistry,
  repository: SubscriptionRepository,
): void {
  new Gauge({
    name: 'herald_subscriptions',
    help: 'Subscriptions by status, across all tenants',
    labelNames: ['status'],
    registers: [metrics.registry],
    async collect() {
      const counts = await repository.countByStatus();
      for (const status of SUBSCRIPTION_STATUSES) this.set({ status }, counts[status]);
    },
  });
}
