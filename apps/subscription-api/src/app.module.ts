import { resolve } from 'node:path';
import {
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { AuthModule, BoundedApiKeyGuard, apiKeyDeletionListener } from '@herald/auth';
import type { ConfigOf } from '@herald/config';
import { ContractRegistry, loadContract, reportContractLoad } from '@herald/contract';
import {
  WebhookClient,
  createAddressPolicy,
  systemResolver,
  type HostResolver,
} from '@herald/delivery';
import { KafkaModule } from '@herald/kafka';
import {
  LOGGER,
  MetricsRegistry,
  ObservabilityModule,
  type Logger,
  type Observability,
} from '@herald/observability';
import {
  DeliveryLogRepository,
  RedisConnection,
  RedisDeadline,
  ReplayRepository,
  StoreModule,
  SubscriptionRepository,
  SubscriptionStoreModule,
} from '@herald/store';
import { ApiKeysController } from './api-keys/api-keys.controller';
import { CATALOG_VERSION, CatalogController } from './catalog/catalog.controller';
import { ConsoleModule } from './console/console.module';
import { createApiRedisDeadline, type ApiRedisDeadline } from './http/redis-deadline';
import { ApiDocsController } from './openapi/api-docs.controller';
import { OpenApiDocument } from './openapi/openapi.document';
import { OwnershipVerifier } from './subscriptions/ownership-verifier';
import { SubscriptionActivityController } from './subscriptions/subscription-activity.controller';
import {
  registerSubscriptionGauge,
  registerUnreadableSecretsCounter,
} from './subscriptions/subscription.metrics';
import { SubscriptionsController } from './subscriptions/subscriptions.controller';
import { SubscriptionsService } from './subscriptions/subscriptions.service';
import { TestPingSender } from './subscriptions/test-ping.sender';
import { WebhookUrlGuard } from './subscriptions/webhook-url.guard';
import type { subscriptionApiConfigFragments } from './subscription-api.config';
import { Tmf688HubController } from './tmf688/tmf688-hub.controller';

export const SERVICE = 'herald-subscription-api';
/** Herald's version, sent as `user-agent: Herald/<version>` and shown in the documents. */
export const HERALD_VERSION = '0.1.0';

export interface AppOptions {
  /** Resolves webhook host names; tests inject one that maps names to chosen addresses. */
  readonly resolver?: HostResolver;
}

@Module({})
export class AppModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(SubscriptionsService) private readonly subscriptions: SubscriptionsService,
    @Inject(WebhookClient) private readonly webhookClient: WebhookClient,
    @Inject(SubscriptionRepository) private readonly repository: SubscriptionRepository,
    @Inject(MetricsRegistry) private readonly metrics: MetricsRegistry,
    @Inject(RedisDeadline) private readonly redis: ApiRedisDeadline,
  ) {}

  static forRoot(
    config: ConfigOf<typeof subscriptionApiConfigFragments>,
    observability: Observability,
    options: AppOptions = {},
  ): DynamicModule {
    const rules = {
      policy: createAddressPolicy(config.delivery.allowedNetworks),
      resolver: options.resolver ?? systemResolver,
      httpsOnly: config.delivery.httpsOnly,
    };
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot(observability),
        StoreModule.forRoot(config.store, SERVICE),
        SubscriptionStoreModule.forRoot(config.secretKey),
        KafkaModule.forRoot(config.kafka, SERVICE),
        AuthModule.forRoot(config.auth),
        ConsoleModule.forRoot(config.console),
      ],
      controllers: [
        SubscriptionsController,
        SubscriptionActivityController,
        Tmf688HubController,
        ApiKeysController,
        CatalogController,
        ApiDocsController,
      ],
      providers: [
        { provide: CATALOG_VERSION, useValue: HERALD_VERSION },
        {
          // Every Redis call of a request is bounded by it (503 + Retry-After past it).
          provide: RedisDeadline,
          inject: [RedisConnection, MetricsRegistry, LOGGER],
          useFactory: (redis: RedisConnection, metrics: MetricsRegistry, logger: Logger) =>
            createApiRedisDeadline(redis, config.subscriptions, metrics, logger),
        },
        BoundedApiKeyGuard,
        // A key deleted through any instance is refused here at once, not when its cache expires.
        apiKeyDeletionListener,
        { provide: OpenApiDocument, useValue: new OpenApiDocument() },
        {
          provide: ContractRegistry,
          inject: [LOGGER, MetricsRegistry],
          // Relative to the working directory, like every path in Herald's configuration.
          useFactory: async (logger: Logger, metrics: MetricsRegistry) => {
            const registry = await loadContract(resolve(config.contract.dir), {
              cacheDir: config.contract.cacheDir,
            });
            reportContractLoad(registry, logger, metrics.contractDocuments);
            return registry;
          },
        },
        { provide: WebhookUrlGuard, useValue: new WebhookUrlGuard(rules) },
        {
          provide: OwnershipVerifier,
          inject: [WebhookUrlGuard],
          useFactory: (guard: WebhookUrlGuard) =>
            new OwnershipVerifier(guard, {
              timeoutMs: config.subscriptions.verificationTimeoutMs,
              origin: config.subscriptions.webhookOrigin,
            }),
        },
        {
          provide: WebhookClient,
          useFactory: () =>
            new WebhookClient({
              policy: rules.policy,
              resolver: rules.resolver,
              connectTimeoutMs: config.delivery.connectTimeoutMs,
              requestTimeoutMs: config.delivery.requestTimeoutMs,
            }),
        },
        {
          provide: TestPingSender,
          inject: [WebhookClient, DeliveryLogRepository, RedisDeadline, LOGGER],
          useFactory: (
            client: WebhookClient,
            log: DeliveryLogRepository,
            redis: ApiRedisDeadline,
            logger: Logger,
          ) => new TestPingSender(client, log, HERALD_VERSION, redis, logger),
        },
        {
          provide: SubscriptionsService,
          inject: [
            SubscriptionRepository,
            ContractRegistry,
            WebhookUrlGuard,
            OwnershipVerifier,
            TestPingSender,
            ReplayRepository,
            LOGGER,
            RedisDeadline,
            MetricsRegistry,
          ],
          useFactory: (
            repository: SubscriptionRepository,
            contract: ContractRegistry,
            guard: WebhookUrlGuard,
            verifier: OwnershipVerifier,
            pinger: TestPingSender,
            replays: ReplayRepository,
            logger: Logger,
            redis: ApiRedisDeadline,
            metrics: MetricsRegistry,
          ) =>
            new SubscriptionsService(
              repository,
              contract,
              guard,
              verifier,
              pinger,
              replays,
              config.subscriptions,
              logger.child({ component: 'subscriptions' }),
              redis,
              registerUnreadableSecretsCounter(metrics),
            ),
        },
      ],
    };
  }

  onModuleInit(): void {
    registerSubscriptionGauge(this.metrics, this.repository, this.redis);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscriptions.settle();
    await this.webhookClient.close();
  }
}
