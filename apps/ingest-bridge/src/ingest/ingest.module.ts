import { Module, type DynamicModule } from '@nestjs/common';
import { BoundedApiKeyGuard } from '@herald/auth';
import type { ContractRegistry } from '@herald/contract';
import { LOGGER, MetricsRegistry, Tracer, type Logger } from '@herald/observability';
import {
  IdempotencyStore,
  RedisConnection,
  RedisDeadline,
  STORE_KEYS,
  type StoreKeys,
} from '@herald/store';
import { BridgeMetrics } from '../bridge/bridge.metrics';
import { SourceBridgeService } from '../bridge/source-bridge.service';
import { EventsController } from './events.controller';
import type { IngestConfig } from './ingest.config';
import { IngestMetrics, type RedisOperation } from './ingest.metrics';
import { REDIS_UNAVAILABLE_PROBLEM } from './ingest.errors';
import { IngestService } from './ingest.service';
import { CONTRACT, INGEST_CONFIG, INGEST_IDEMPOTENCY } from './ingest.tokens';
import { RateLimiter } from './rate-limiter';

/** HTTP ingest and the source-topic bridge, sharing one contract and KafkaModule's publisher. */
@Module({})
export class IngestModule {
  static forRoot(
    contract: ContractRegistry,
    config: IngestConfig,
    tracer: Tracer,
    /** The publish deadline (`KAFKA_PUBLISH_TIMEOUT_MS`); reservations outlive kafkajs's retries after it. */
    publishTimeoutMs: number,
  ): DynamicModule {
    return {
      module: IngestModule,
      controllers: [EventsController],
      providers: [
        { provide: CONTRACT, useValue: contract },
        { provide: INGEST_CONFIG, useValue: config },
        { provide: Tracer, useValue: tracer },
        {
          provide: INGEST_IDEMPOTENCY,
          inject: [RedisConnection, STORE_KEYS],
          useFactory: (redis: RedisConnection, keys: StoreKeys) =>
            new IdempotencyStore(redis, keys, undefined, reservationLifetimeMs(publishTimeoutMs)),
        },
        {
          provide: IngestMetrics,
          inject: [MetricsRegistry],
          useFactory: (metrics: MetricsRegistry) =>
            new IngestMetrics(metrics, new Set(contract.eventTypes())),
        },
        {
          provide: BridgeMetrics,
          inject: [MetricsRegistry],
          useFactory: (metrics: MetricsRegistry) => new BridgeMetrics(metrics),
        },
        {
          provide: RedisDeadline,
          inject: [RedisConnection, IngestMetrics, LOGGER],
          useFactory: (redis: RedisConnection, metrics: IngestMetrics, logger: Logger) =>
            new RedisDeadline<RedisOperation>(redis, {
              timeoutMs: config.redisTimeoutMs,
              retryAfterSeconds: config.redisRetryAfterSeconds,
              problem: REDIS_UNAVAILABLE_PROBLEM,
              countUnavailable: (operation, reason) =>
                metrics.countRedisUnavailable(operation, reason),
              logger,
            }),
        },
        BoundedApiKeyGuard,
        {
          provide: RateLimiter,
          useFactory: () => new RateLimiter(config.ratePerKey, config.burstPerKey),
        },
        IngestService,
        SourceBridgeService,
      ],
    };
  }
}

/**
 * How long an id stays reserved if its request never finishes it: past a write that missed its
 * deadline, kafkajs may still be retrying it for about four times that long, and the id must
 * stay reserved until it reports how the write ended.
 */
export function reservationLifetimeMs(publishTimeoutMs: number): number {
  return Math.max(30_000, 10 * publishTimeoutMs);
}
