import {
  Global,
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { ReadinessRegistry } from '@herald/observability';
import { RedisConnection } from './redis.connection';
import type { StoreConfig } from './store.config';

/** Gives the app one Redis connection, closed last on shutdown, and a `redis` readiness check. */
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
      ],
      exports: [RedisConnection],
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
