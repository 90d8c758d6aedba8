import { Module, type DynamicModule } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import {
  ApiKeyDeletionListener,
  Authenticator,
  BoundedApiKeyGuard,
  apiKeyDeletionListener,
} from '@herald/auth';
import { ContractRegistry } from '@herald/contract';
import { KafkaConnection } from '@herald/kafka';
import { LOGGER, MetricsRegistry, type Logger } from '@herald/observability';
import {
  ApiKeyRepository,
  RedisConnection,
  RedisDeadline,
  StreamCursorRepository,
  SubscriptionRepository,
} from '@herald/store';
import { SubscriptionIndex } from '../subscriptions/subscription-index';
import { SubscriptionsModule } from '../subscriptions/subscriptions.module';
import { PollController } from './poll.controller';
import { SseController } from './sse.controller';
import { StreamPlanner } from './stream-planner';
import { createStreamRedisDeadline, type StreamRedisDeadline } from './stream-redis-deadline';
import type { StreamsConfig } from './streams.config';
import { StreamsMetrics } from './streams.metrics';
import { StreamsService } from './streams.service';
import { STREAMS_CONFIG } from './streams.tokens';
import { WsGateway } from './ws.gateway';

const STREAMS_CONTRACT = Symbol('STREAMS_CONTRACT');

/**
 * SSE, WebSocket and long-poll streams (SPEC §7). Needs the app's Kafka connection, Redis
 * (SubscriptionStoreModule for stream subscriptions and their cursors; StoreModule's connection,
 * whose every call a stream request makes is bounded by a RedisDeadline), AuthModule and
 * ObservabilityModule; the subscription index (its change notices end durable streams whose
 * subscription is deleted, paused or changed). It provides the process's one API key deletion
 * listener (`ApiKeyDeletionListener`, on a Redis connection of its own): on a key's notice it
 * forgets the key's cached auth answers and the streams end the key's streams.
 */
@Module({})
export class StreamsModule {
  /** `contract` gives the app's one contract (AppModule loads it once for delivery and streams). */
  static forRoot(
    config: { streams: StreamsConfig },
    contract: () => Promise<ContractRegistry>,
  ): DynamicModule {
    return {
      module: StreamsModule,
      imports: [SubscriptionsModule],
      controllers: [SseController, PollController],
      providers: [
        { provide: STREAMS_CONFIG, useValue: config.streams },
        {
          provide: STREAMS_CONTRACT,
          useFactory: contract,
        },
        {
          provide: StreamsMetrics,
          inject: [MetricsRegistry],
          useFactory: (metrics: MetricsRegistry) => new StreamsMetrics(metrics),
        },
        {
          // Every Redis call a stream request makes before it streams (the key lookup of its
          // guard, the upgrade's, its durable subscription and cursor, acks) is bounded by it.
          provide: RedisDeadline,
          inject: [RedisConnection, StreamsMetrics, LOGGER],
          useFactory: (redis: RedisConnection, metrics: StreamsMetrics, logger: Logger) =>
            createStreamRedisDeadline(
              redis,
              config.streams,
              metrics,
              logger.child({ component: 'streams' }),
            ),
        },
        BoundedApiKeyGuard,
        // fanout's only listener for API key deletion notices: the auth cache and the streams.
        apiKeyDeletionListener,
        {
          provide: StreamsService,
          inject: [
            KafkaConnection,
            STREAMS_CONTRACT,
            StreamsMetrics,
            LOGGER,
            SubscriptionIndex,
            ApiKeyRepository,
            Authenticator,
            ApiKeyDeletionListener,
          ],
          useFactory: (
            kafka: KafkaConnection,
            contract: ContractRegistry,
            metrics: StreamsMetrics,
            logger: Logger,
            subscriptions: SubscriptionIndex,
            apiKeys: ApiKeyRepository,
            authenticator: Authenticator,
            deletions: ApiKeyDeletionListener,
          ) =>
            new StreamsService(
              kafka,
              contract.topics().map(({ topic, partitions }) => ({ topic, partitions })),
              config.streams,
              metrics,
              logger.child({ component: 'streams' }),
              subscriptions,
              {
                repository: apiKeys,
                deletions,
                forget: (keyId) => authenticator.forget(keyId),
              },
            ),
        },
        {
          provide: StreamPlanner,
          inject: [STREAMS_CONTRACT, SubscriptionRepository, StreamCursorRepository, RedisDeadline],
          useFactory: (
            contract: ContractRegistry,
            subscriptions: SubscriptionRepository,
            cursors: StreamCursorRepository,
            redis: StreamRedisDeadline,
          ) => new StreamPlanner(contract, subscriptions, cursors, redis),
        },
        {
          provide: WsGateway,
          inject: [
            HttpAdapterHost,
            Authenticator,
            StreamsService,
            StreamPlanner,
            StreamsMetrics,
            LOGGER,
            RedisDeadline,
          ],
          useFactory: (
            host: HttpAdapterHost,
            authenticator: Authenticator,
            streams: StreamsService,
            planner: StreamPlanner,
            metrics: StreamsMetrics,
            logger: Logger,
            redis: StreamRedisDeadline,
          ) =>
            new WsGateway(
              host,
              authenticator,
              streams,
              planner,
              redis,
              config.streams,
              metrics,
              logger.child({ component: 'streams' }),
            ),
        },
      ],
      exports: [StreamsService],
    };
  }
}
