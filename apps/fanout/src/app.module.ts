import { resolve } from 'node:path';
import { Module, type DynamicModule } from '@nestjs/common';
import { AuthModule } from '@herald/auth';
import type { ConfigOf } from '@herald/config';
import { loadContract, reportContractLoad, type ContractRegistry } from '@herald/contract';
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
    // Loaded once, when the first module asks, for delivery and streams alike.
    let loading: Promise<ContractRegistry> | undefined;
    const contract = () =>
      (loading ??= delivery.contract
        ? Promise.resolve(delivery.contract)
        : loadContract(resolve(config.contract.dir), { cacheDir: config.contract.cacheDir }).then(
            (registry) => {
              const { logger, metrics } = observability;
              reportContractLoad(registry, logger, metrics.contractDocuments);
              return registry;
            },
          ));
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot(observability),
        StoreModule.forRoot(config.store, SERVICE),
        KafkaModule.forRoot(config.kafka, SERVICE),
        SubscriptionStoreModule.forRoot(config.secretKey),
        DeliveryModule.forRoot(config, { tracer: observability.tracer, ...delivery }, contract),
        AuthModule.forRoot(config.auth),
        StreamsModule.forRoot(config, contract),
      ],
    };
  }
}
