import { Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
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
    @Inject(LOGGER) private readonly logger: Logger,
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
    this.watchProblems();
    // Loading happens in the background; consumers wait on `sync.start()`.
    void this.sync.start();
  }

  /**
   * Says once per version of a subscription (not on every event it misses) that it can receive
   * nothing, and counts the webhooks whose secrets cannot be used.
   */
  private watchProblems(): void {
    const index = this.index;
    const registers = [this.metrics.registry];
    const secretErrors = new Counter({
      name: 'herald_subscription_secret_errors_total',
      help: 'Webhook subscriptions found with secrets this process cannot use (sealed under another HERALD_SECRET_KEY, corrupt, or not whsec_<base64>), once per subscription version; they are sent nothing until fixed',
      registers,
    });
    secretErrors.inc(0);
    new Gauge({
      name: 'herald_subscriptions_secrets_unusable',
      help: 'Webhook subscriptions whose secrets this process cannot use now; they are sent nothing',
      registers,
      collect() {
        this.set(index.countSecretsProblems());
      },
    });
    const logger = this.logger.child({ component: 'subscription-index' });
    index.onChange((previous, next) => {
      if (next === null || next.problem === null) return;
      const { id, version, tenant } = next.subscription;
      if (previous?.problem === next.problem && previous.subscription.version === version) return;
      if (next.secretsProblem === null) {
        logger.warn(
          { subscriptionId: id, tenant, version, problem: next.problem },
          'subscription does not compile; it matches no event',
        );
        return;
      }
      secretErrors.inc();
      logger.error(
        { subscriptionId: id, tenant, version, problem: next.secretsProblem },
        'subscription secrets cannot be used; nothing is sent to it and its parked deliveries wait until they are fixed',
      );
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sync.stop();
  }
}
