import {
  Global,
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { ReadinessRegistry } from '@herald/observability';
import { ApiKeyRepository } from './api-key.repository';
import { RedisConnection } from './redis.connection';
import type { StoreConfig } from './store.config';
import { storeKeys, type StoreKeys } from './store.keys';

/** Injection token of the process's StoreKeys (the key builder under the configured prefix). */
export const STORE_KEYS = Symbol('STORE_KEYS');

/**
 * Gives the app one Redis connection (closed last on shutdown), the key builder, the API-key
 * repository, and a `redis` readiness check.
 */
@Global()
@Module({})
export class StoreModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(RedisConnection) private readonly redis: RedisConnection,
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
  ) {}

  static forRoot(config: StoreConfig, service: string): DynamicModule {
    return {
      module: StoreModule,
      providers: [
        { provide: RedisConnection, useFactory: () => new RedisConnection(config, service) },
        { provide: STORE_KEYS, useValue: storeKeys(config.prefix) },
        {
          provide: ApiKeyRepository,
          inject: [RedisConnection, STORE_KEYS],
          useFactory: (redis: RedisConnection, keys: StoreKeys) =>
            new ApiKeyRepository(redis, keys),
        },
      ],
      exports: [RedisConnection, STORE_KEYS, ApiKeyRepository],
    };
  }

  async onModuleInit(): Promise<void> {
    this.readiness.register('redis', () => this.redis.ping());
    // Start even when Redis is down: readiness reports it and ioredis keeps reconnecting.
    await this.redis.connect().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.close();
  }
}
