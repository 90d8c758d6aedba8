import {
  Global,
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { LOGGER, MetricsRegistry, ReadinessRegistry, type Logger } from '@herald/observability';
import type { KafkaConfig } from './kafka.config';
import { KafkaConnection } from './kafka.connection';
import { KafkaPublisher } from './kafka.publisher';
import { TopicProvisioner } from './topic.provisioner';

/**
 * Gives the app its Kafka connection, publisher (its metrics on the app's `MetricsRegistry`) and
 * topic provisioner, and a `kafka` readiness check. On shutdown the publisher answers what it
 * holds before the connection closes.
 */
@Global()
@Module({})
export class KafkaModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(KafkaConnection) private readonly kafka: KafkaConnection,
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
    @Inject(KafkaPublisher) private readonly publisher: KafkaPublisher,
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
        {
          provide: KafkaPublisher,
          inject: [KafkaConnection, LOGGER, { token: MetricsRegistry, optional: true }],
          useFactory: (connection: KafkaConnection, logger: Logger, metrics?: MetricsRegistry) =>
            new KafkaPublisher(
              connection,
              logger.child({ component: 'kafka-publisher' }),
              metrics ? { registry: metrics.registry } : {},
            ),
        },
        {
          provide: TopicProvisioner,
          inject: [KafkaConnection, LOGGER],
          useFactory: (connection: KafkaConnection, logger: Logger) =>
            new TopicProvisioner(connection, logger),
        },
      ],
      exports: [KafkaConnection, KafkaPublisher, TopicProvisioner],
    };
  }

  onModuleInit(): void {
    this.readiness.register('kafka', () => this.kafka.ping());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.publisher.close();
    await this.kafka.close();
  }
}
