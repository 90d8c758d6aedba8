import {
  Inject,
  Module,
  type BeforeApplicationShutdown,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ContractRegistry } from '@herald/contract';
import {
  WebhookClient,
  createAddressPolicy,
  systemResolver,
  type DeliveryConfig,
  type HostResolver,
} from '@herald/delivery';
import {
  ConsumerRunner,
  KafkaConnection,
  KafkaPublisher,
  OffsetLookup,
  OffsetRangeReader,
  TopicProvisioner,
} from '@herald/kafka';
import {
  LOGGER,
  MetricsRegistry,
  ReadinessRegistry,
  Tracer,
  type Logger,
} from '@herald/observability';
import {
  DeadLetterRepository,
  DeliveryLogRepository,
  PartitionHandoverStore,
  PendingDisableStore,
  RedisConnection,
  ReplayRepository,
  RetryParkingStore,
  STORE_KEYS,
  SubscriptionRepository,
  SubscriptionStatsRepository,
  type StoreKeys,
} from '@herald/store';
import { SubscriptionIndex } from '../subscriptions/subscription-index';
import { SubscriptionIndexSync } from '../subscriptions/subscription-index.sync';
import { SubscriptionsModule } from '../subscriptions/subscriptions.module';
import { DeadLetterRetention } from './dead-letter.retention';
import { DeadLetterWriter } from './dead-letter.writer';
import { BackfillGate } from './backfill-gate';
import { BACKFILL_RECHECK_MS, DeliveryEngine, claimLeaseMs } from './delivery.engine';
import { DeliveryMetrics } from './delivery.metrics';
import { DeliveryRecordsWriter } from './delivery-records.writer';
import { DeliveryService } from './delivery.service';
import type { FanoutDeliveryConfig } from './delivery.config';
import { ParkedTaskPoller } from './parked-task.poller';
import { RequestRunner } from './request.runner';
import { SourceConsumer } from './source-consumer';

/**
 * How much longer a new owner of a partition waits for the previous owner's hand-over than that
 * owner waits for its attempts in flight (one request timeout).
 */
const HANDOVER_WAIT_MARGIN_MS = 5_000;

/** Herald's version, sent as `user-agent: Herald/<version>`. */
export const HERALD_VERSION = '0.1.0';

export interface DeliveryModuleConfig {
  readonly fanoutDelivery: FanoutDeliveryConfig;
  readonly delivery: DeliveryConfig;
  readonly observability: {
    readonly shutdownTimeoutMs: number;
    readonly metricsPerSubscription: boolean;
  };
}

/**
 * How long a shutdown waits for attempts in flight: at most one request timeout, and no more
 * than 60 % of the shutdown budget (`HERALD_SHUTDOWN_TIMEOUT_MS`), so the last commit, leaving
 * the group and closing the connections still fit before the process is made to exit 1.
 */
export function drainTimeoutMs(requestTimeoutMs: number, shutdownTimeoutMs: number): number {
  return Math.max(100, Math.min(requestTimeoutMs, Math.floor(shutdownTimeoutMs * 0.6)));
}

export interface DeliveryModuleOptions {
  /** Resolves webhook host names at connect time; tests may map names to chosen addresses. */
  readonly resolver?: HostResolver;
  /** The contract, already loaded (tests share one); default: AppModule loads `contract.dir`. */
  readonly contract?: ContractRegistry;
  /** Records a `herald.deliver` span per attempt; default tracing off. */
  readonly tracer?: Tracer;
}

/**
 * The webhook delivery engine. Needs StoreModule, SubscriptionStoreModule and KafkaModule;
 * brings the subscription index with it.
 */
@Module({})
export class DeliveryModule
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  constructor(@Inject(DeliveryService) private readonly service: DeliveryService) {}

  /** `contract` gives the app's one contract (AppModule loads it once for delivery and streams). */
  static forRoot(
    config: DeliveryModuleConfig,
    options: DeliveryModuleOptions,
    contract: () => Promise<ContractRegistry>,
  ): DynamicModule {
    const { fanoutDelivery, delivery } = config;
    return {
      module: DeliveryModule,
      imports: [SubscriptionsModule],
      providers: [
        {
          provide: ContractRegistry,
          useFactory: contract,
        },
        {
          provide: RetryParkingStore,
          inject: [RedisConnection, STORE_KEYS],
          useFactory: (redis: RedisConnection, keys: StoreKeys) =>
            new RetryParkingStore(redis, keys),
        },
        {
          provide: DeliveryMetrics,
          inject: [MetricsRegistry, RetryParkingStore],
          useFactory: (metrics: MetricsRegistry, parking: RetryParkingStore) =>
            new DeliveryMetrics(
              metrics,
              () => withTimeout(parking.count(), 1000),
              config.observability.metricsPerSubscription,
            ),
        },
        {
          provide: WebhookClient,
          useFactory: () =>
            new WebhookClient({
              policy: createAddressPolicy(delivery.allowedNetworks),
              resolver: options.resolver ?? systemResolver,
              connectTimeoutMs: delivery.connectTimeoutMs,
              requestTimeoutMs: delivery.requestTimeoutMs,
            }),
        },
        {
          provide: DeliveryRecordsWriter,
          inject: [DeliveryLogRepository, SubscriptionStatsRepository, LOGGER],
          useFactory: (
            log: DeliveryLogRepository,
            stats: SubscriptionStatsRepository,
            logger: Logger,
          ) =>
            new DeliveryRecordsWriter(
              log,
              stats,
              logger.child({ component: 'delivery-records' }),
              fanoutDelivery.attemptLog,
            ),
        },
        {
          provide: DeadLetterRetention,
          inject: [DeadLetterRepository, SubscriptionIndex, DeliveryMetrics, LOGGER],
          useFactory: (
            deadLetters: DeadLetterRepository,
            index: SubscriptionIndex,
            metrics: DeliveryMetrics,
            logger: Logger,
          ) =>
            new DeadLetterRetention(
              deadLetters,
              () => [...index.all()].map((entry) => entry.subscription.id),
              metrics,
              logger.child({ component: 'dead-letters' }),
              fanoutDelivery.deadLetterLimits,
            ),
        },
        {
          provide: DeadLetterWriter,
          inject: [KafkaPublisher, DeadLetterRetention],
          useFactory: (publisher: KafkaPublisher, retention: DeadLetterRetention) =>
            new DeadLetterWriter(publisher, retention),
        },
        {
          provide: DeliveryEngine,
          inject: [
            SubscriptionIndex,
            WebhookClient,
            RetryParkingStore,
            SubscriptionRepository,
            DeliveryRecordsWriter,
            DeadLetterWriter,
            ReplayRepository,
            DeliveryMetrics,
            LOGGER,
            RedisConnection,
            STORE_KEYS,
          ],
          useFactory: (
            index: SubscriptionIndex,
            client: WebhookClient,
            parking: RetryParkingStore,
            repository: SubscriptionRepository,
            records: DeliveryRecordsWriter,
            deadLetters: DeadLetterWriter,
            replays: ReplayRepository,
            metrics: DeliveryMetrics,
            logger: Logger,
            redis: RedisConnection,
            keys: StoreKeys,
          ) =>
            new DeliveryEngine({
              index,
              client,
              parking,
              pendingDisables: new PendingDisableStore(redis, keys),
              repository,
              records,
              deadLetters,
              backfills: new BackfillGate(
                replays,
                logger.child({ component: 'backfill-gate' }),
                BACKFILL_RECHECK_MS,
                () => metrics.backfillsRequested.inc(),
              ),
              metrics,
              tracer: options.tracer ?? new Tracer(),
              config: fanoutDelivery,
              requestTimeoutMs: delivery.requestTimeoutMs,
              version: HERALD_VERSION,
              logger: logger.child({ component: 'delivery' }),
            }),
        },
        {
          provide: SourceConsumer,
          inject: [
            KafkaConnection,
            MetricsRegistry,
            ContractRegistry,
            DeliveryEngine,
            SubscriptionIndex,
            SubscriptionIndexSync,
            RetryParkingStore,
            RedisConnection,
            STORE_KEYS,
            DeliveryMetrics,
            LOGGER,
            ReadinessRegistry,
          ],
          useFactory: (
            connection: KafkaConnection,
            metrics: MetricsRegistry,
            contract: ContractRegistry,
            engine: DeliveryEngine,
            index: SubscriptionIndex,
            sync: SubscriptionIndexSync,
            parking: RetryParkingStore,
            redis: RedisConnection,
            keys: StoreKeys,
            deliveryMetrics: DeliveryMetrics,
            logger: Logger,
            readiness: ReadinessRegistry,
          ) => {
            const child = logger.child({ component: 'delivery-source' });
            const runner = new ConsumerRunner(connection, child, { registry: metrics.registry });
            // A consumer kafkajs gave up on (a crash it does not restart) leaves the instance
            // delivering nothing: readiness says so, as the `kafka` check does not.
            readiness.register('delivery', () => runner.health());
            return new SourceConsumer(
              runner,
              engine,
              index,
              sync,
              parking,
              new PartitionHandoverStore(redis, keys),
              deliveryMetrics,
              child,
              {
                group: fanoutDelivery.group,
                topics: contract.topics().map((topic) => topic.topic),
                maxBacklog: fanoutDelivery.maxBacklog,
                commitIntervalMs: fanoutDelivery.commitIntervalMs,
                sessionTimeoutMs: fanoutDelivery.sessionTimeoutMs,
                releaseWaitMs: delivery.requestTimeoutMs,
                handoverWaitMs: delivery.requestTimeoutMs + HANDOVER_WAIT_MARGIN_MS,
              },
            );
          },
        },
        {
          provide: ParkedTaskPoller,
          inject: [RetryParkingStore, DeliveryEngine, SubscriptionIndex, LOGGER],
          useFactory: (
            parking: RetryParkingStore,
            engine: DeliveryEngine,
            index: SubscriptionIndex,
            logger: Logger,
          ) =>
            new ParkedTaskPoller(
              parking,
              engine,
              index,
              logger.child({ component: 'parked-retries' }),
              {
                intervalMs: fanoutDelivery.pollIntervalMs,
                leaseMs: claimLeaseMs(delivery.requestTimeoutMs),
              },
            ),
        },
        {
          provide: RequestRunner,
          inject: [
            ContractRegistry,
            SubscriptionIndex,
            SubscriptionIndexSync,
            DeliveryEngine,
            ReplayRepository,
            DeadLetterRepository,
            RetryParkingStore,
            KafkaConnection,
            DeliveryMetrics,
            LOGGER,
          ],
          useFactory: (
            contract: ContractRegistry,
            index: SubscriptionIndex,
            sync: SubscriptionIndexSync,
            engine: DeliveryEngine,
            replays: ReplayRepository,
            deadLetters: DeadLetterRepository,
            parking: RetryParkingStore,
            connection: KafkaConnection,
            metrics: DeliveryMetrics,
            logger: Logger,
          ) => {
            const child = logger.child({ component: 'replays' });
            return new RequestRunner({
              contract,
              index,
              sync,
              engine,
              replays,
              deadLetters,
              parking,
              offsets: new OffsetLookup(connection),
              reader: new OffsetRangeReader(connection, child),
              metrics,
              logger: child,
              laneMemory: fanoutDelivery.laneMemory,
              leaseMs: fanoutDelivery.claimLeaseMs,
              replayConcurrency: fanoutDelivery.replayConcurrency,
              replaysPerTenant: fanoutDelivery.replaysPerTenant,
              redrivePageSize: fanoutDelivery.redrivePageSize,
            });
          },
        },
        {
          provide: DeliveryService,
          inject: [
            ContractRegistry,
            TopicProvisioner,
            SubscriptionIndexSync,
            SourceConsumer,
            ParkedTaskPoller,
            RequestRunner,
            DeadLetterRetention,
            DeliveryEngine,
            DeliveryRecordsWriter,
            WebhookClient,
            LOGGER,
          ],
          useFactory: (
            contract: ContractRegistry,
            provisioner: TopicProvisioner,
            sync: SubscriptionIndexSync,
            source: SourceConsumer,
            poller: ParkedTaskPoller,
            requests: RequestRunner,
            deadLetters: DeadLetterRetention,
            engine: DeliveryEngine,
            records: DeliveryRecordsWriter,
            client: WebhookClient,
            logger: Logger,
          ) =>
            new DeliveryService(
              contract,
              provisioner,
              sync,
              source,
              poller,
              requests,
              deadLetters,
              engine,
              records,
              client,
              logger.child({ component: 'delivery' }),
              drainTimeoutMs(delivery.requestTimeoutMs, config.observability.shutdownTimeoutMs),
            ),
        },
      ],
      exports: [DeliveryService, DeliveryEngine, ContractRegistry],
    };
  }

  onApplicationBootstrap(): void {
    this.service.start();
  }

  // Before KafkaModule and StoreModule close their connections.
  async beforeApplicationShutdown(): Promise<void> {
    await this.service.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.service.close();
  }
}

function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  return Promise.race([
    work,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error('timed out')), timeoutMs).unref(),
    ),
  ]);
}
