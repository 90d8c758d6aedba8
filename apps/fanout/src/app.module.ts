import { Module, type DynamicModule } from '@nestjs/common';
import type { ConfigOf } from '@herald/config';
import { KafkaModule } from '@herald/kafka';
import { ObservabilityModule, type Observability } from '@herald/observability';
import { StoreModule } from '@herald/store';
import type { fanoutConfigFragments } from './fanout.config';

export const SERVICE = 'herald-fanout';

@Module({})
export class AppModule {
  static forRoot(
    config: ConfigOf<typeof fanoutConfigFragments>,
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
