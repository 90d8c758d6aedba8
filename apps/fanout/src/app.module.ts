import { Module, type DynamicModule } from '@nestjs/common';
import { AuthModule } from '@herald/auth';
import type { ConfigOf } from '@herald/config';
import { KafkaModule } from '@herald/kafka';
import { ObservabilityModule, type Observability } from '@herald/observability';
import { StoreModule, SubscriptionStoreModule } from '@herald/store';
import { DeliveryModule, type DeliveryModuleOptions } from './delivery/delivery.module';
import type { fanoutConfigFragments } from './fanout.config';
import { StreamsModule } from './streams/streams.module';

export const SERVICE = 'herald-fanout';

@Module({})
export class AppModule {
  static forRoot(
    config: ConfigOf<typeof fanoutConfigFragments>,
    observability: Observability,
    delivery: DeliveryModuleOptions = {},
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot(observability),
        StoreModule.forRoot(config.store, SERVICE),
        KafkaModule.forRoot(config.kafka, SERVICE),
        SubscriptionStoreModule.forRoot(config.secretKey),
        DeliveryModule.forRoot(config, { tracer: observability.tracer, ...delivery }),
        AuthModule.forRoot(config.auth),
        StreamsModule.forRoot(config),
      ],
    };
  }
}
