import { Module, type DynamicModule } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Authenticator } from '@herald/auth';
import { ContractRegistry } from '@herald/contract';
import { KafkaConnection } from '@herald/kafka';
import { LOGGER, MetricsRegistry, type Logger } from '@herald/observability';
import { ApiKeyRepository, StreamCursorRepository, SubscriptionRepository } from '@herald/store';
import { SubscriptionIndex } from '../subscriptions/subscription-index';
import { SubscriptionsModule } from '../subscriptions/subscriptions.module';
import { PollController } from './poll.controller';
import { SseController } from './sse.controller';
import { StreamPlanner } from './stream-planner';
import type { StreamsConfig } from './streams.config';
import { StreamsMetrics } from './streams.metrics';
import { StreamsService } from './streams.service';
import { STREAMS_CONFIG } from './streams.tokens';
import { WsGateway } from './ws.gateway';

const STREAMS_CONTRACT = Symbol('STREAMS_CONTRACT');

/**
 * SSE, WebSocket and long-poll streams (SPEC §7). Needs the app's Kafka connection, Redis
 * (SubscriptionStoreModule for stream subscriptions and their cursors), AuthModule and
 * ObservabilityModule; the subscription index (its change notices end durable streams whose
 * subscription is deleted, paused or changed).
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
          provide: StreamsService,
          inject: [
            KafkaConnection,
            STREAMS_CONTRACT,
            StreamsMetrics,
            LOGGER,
            SubscriptionIndex,
            ApiKeyRepository,
            Authenticator,
          ],
          useFactory: (
            kafka: KafkaConnection,
            contract: ContractRegistry,
            metrics: StreamsMetrics,
            logger: Logger,
            subscriptions: SubscriptionIndex,
            apiKeys: ApiKeyRepository,
            authenticator: Authenticator,
          ) =>
            new StreamsService(
              kafka,
              contract.topics().map(({ topic, partitions }) => ({ topic, partitions })),
              config.streams,
              metrics,
              logger.child({ component: 'streams' }),
              subscriptions,
              apiKeys,
              () => authenticator.forget(),
            ),
        },
        {
          provide: StreamPlanner,
          inject: [STREAMS_CONTRACT, SubscriptionRepository, StreamCursorRepository],
          useFactory: (
            contract: ContractRegistry,
            subscriptions: SubscriptionRepository,
            cursors: StreamCursorRepository,
          ) => new StreamPlanner(contract, subscriptions, cursors),
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
          ],
          useFactory: (
            host: HttpAdapterHost,
            authenticator: Authenticator,
            streams: StreamsService,
            planner: StreamPlanner,
            metrics: StreamsMetrics,
            logger: Logger,
          ) =>
            new WsGateway(
              host,
              authenticator,
              streams,
              planner,
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
