import {
  Global,
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { LOGGER, ReadinessRegistry, type Logger } from '@herald/observability';
import type { KafkaConfig } from './kafka.config';
import { KafkaConnection } from './kafka.connection';

/** Gives the app its Kafka connection and a `kafka` readiness check. */
@Global()
@Module({})
export class KafkaModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(KafkaConnection) private readonly kafka: KafkaConnection,
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
  ) {}

  static forRoot(config: KafkaConfig, service: string): DynamicModule {
    return {
      module: KafkaModule,
      providers: [
        {
          provide: KafkaConnection,
          inject: [LOGGER],
          useFactory: (logger: Logger) => new KafkaConnection(config, service, logger),
        },
      ],
      exports: [KafkaConnection],
    };
  }

  onModuleInit(): void {
    this.readiness.register('kafka', () => this.kafka.ping());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.kafka.close();
  }
}
