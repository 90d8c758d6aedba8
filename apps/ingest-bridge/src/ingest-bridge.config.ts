import { kafkaConfig } from '@herald/kafka';
import { httpServerConfig } from '@herald/http-server';
import { observabilityConfig } from '@herald/observability';
import { storeConfig } from '@herald/store';

/** Every config fragment ingest-bridge reads, composed once in main.ts. */
export const ingestBridgeConfigFragments = {
  http: httpServerConfig('INGEST_BRIDGE_PORT', 3001),
  observability: observabilityConfig,
  kafka: kafkaConfig,
  store: storeConfig,
};
