import { Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { LOGGER, MetricsRegistry, type Logger } from '@herald/observability';
import { SUBSCRIPTION_STATUSES, SubscriptionNotices, SubscriptionRepository } from '@herald/store';
import { SubscriptionIndex } from './subscription-index';
import { SubscriptionIndexSync } from './subscription-index.sync';

/**
 * The in-memory subscription index, kept fresh from Redis, for the delivery engine and streams.
 * Needs StoreModule and SubscriptionStoreModule.
 */
@Module({
  providers: [
    { provide: SubscriptionIndex, useFactory: () => new SubscriptionIndex() },
    {
      provide: SubscriptionIndexSync,
      inject: [SubscriptionIndex, SubscriptionRepository, SubscriptionNotices, LOGGER],
      useFactory: (
        index: SubscriptionIndex,
        repository: SubscriptionRepository,
        notices: SubscriptionNotices,
        logger: Logger,
      ) =>
        new SubscriptionIndexSync(
          index,
          repository,
          notices,
          logger.child({ component: 'subscription-index' }),
        ),
    },
  ],
  exports: [SubscriptionIndex, SubscriptionIndexSync],
})
export class SubscriptionsModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(SubscriptionIndex) private readonly index: SubscriptionIndex,
    @Inject(SubscriptionIndexSync) private readonly sync: SubscriptionIndexSync,
    @Inject(MetricsRegistry) private readonly metrics: MetricsRegistry,
  ) {}

  onModuleInit(): void {
    const index = this.index;
    // The API app reports the same gauge from Redis's counts; fanout reports what it delivers to.
    if (!this.metrics.registry.getSingleMetric('herald_subscriptions'))
      new Gauge({
        name: 'herald_subscriptions',
        help: 'Subscriptions by status, as this process sees them',
        labelNames: ['status'],
        registers: [this.metrics.registry],
        collect() {
          const counts = index.countByStatus();
          for (const status of SUBSCRIPTION_STATUSES) this.set({ status }, counts[status]);
        },
      });
    // Loading happens in the background; consumers wait on `sync.start()`.
    void this.sync.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sync.stop();
  }
}
