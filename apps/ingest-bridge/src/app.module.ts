import { Module, type DynamicModule } from '@nestjs/common';
import type { ConfigOf } from '@herald/config';
import { KafkaModule } from '@herald/kafka';
import { ObservabilityModule, type Observability } from '@herald/observability';
import { StoreModule } from '@herald/store';
import type { ingestBridgeConfigFragments } from './ingest-bridge.config';

export const SERVICE = 'herald-ingest-bridge';

@Module({})
export class AppModule {
  static forRoot(
    config: ConfigOf<typeof ingestBridgeConfigFragments>,
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
