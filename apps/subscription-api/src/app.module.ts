import { Module, type DynamicModule } from '@nestjs/common';
import type { ConfigOf } from '@herald/config';
import { KafkaModule } from '@herald/kafka';
import { ObservabilityModule, type Observability } from '@herald/observability';
import { StoreModule } from '@herald/store';
import type { subscriptionApiConfigFragments } from './subscription-api.config';

export const SERVICE = 'herald-subscription-api';

@Module({})
export class AppModule {
  static forRoot(
    config: ConfigOf<typeof subscriptionApiConfigFragments>,
    observability: Observability,
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot(observability),
        StoreModule.forRoot(config.store, SERVICE),
        KafkaModule.forRoot(config.kafka, SERVICE),
      ],
    };
  }
}
