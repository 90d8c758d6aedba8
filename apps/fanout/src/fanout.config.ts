import { kafkaConfig } from '@herald/kafka';
import { httpServerConfig } from '@herald/http-server';
import { observabilityConfig } from '@herald/observability';
import { storeConfig } from '@herald/store';

/** Every config fragment fanout reads, composed once in main.ts. */
export const fanoutConfigFragments = {
  http: httpServerConfig('FANOUT_PORT', 3002),
  observability: observabilityConfig,
  kafka: kafkaConfig,
  store: storeConfig,
};
