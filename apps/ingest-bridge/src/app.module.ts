import { Module, type DynamicModule } from '@nestjs/common';
import { AuthModule, apiKeyDeletionListener } from '@herald/auth';
import type { ConfigOf } from '@herald/config';
import type { ContractRegistry } from '@herald/contract';
import { KafkaModule } from '@herald/kafka';
import { ObservabilityModule, type Observability } from '@herald/observability';
import { StoreModule } from '@herald/store';
import type { ingestBridgeConfigFragments } from './ingest-bridge.config';
import { IngestModule } from './ingest/ingest.module';

export const SERVICE = 'herald-ingest-bridge';

@Module({})
export class AppModule {
  static forRoot(
    config: ConfigOf<typeof ingestBridgeConfigFragments>,
    observability: Observability,
    contract: ContractRegistry,
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot(observability),
        StoreModule.forRoot(config.store, SERVICE),
        KafkaModule.forRoot(config.kafka, SERVICE),
        AuthModule.forRoot(config.auth),
        IngestModule.forRoot(
          contract,
          config.ingest,
          observability.tracer,
          config.kafka.publish.timeoutMs,
        ),
      ],
      providers: [
        // A key deleted through any instance is refused here at once, not when its cache expires.
        apiKeyDeletionListener,
      ],
    };
  }
}
