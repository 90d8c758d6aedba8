import { authConfig } from '@herald/auth';
import { contractConfig } from '@herald/contract';
import { httpServerConfig } from '@herald/http-server';
import { kafkaConfig } from '@herald/kafka';
import { observabilityConfig } from '@herald/observability';
import { storeConfig } from '@herald/store';
import { ingestConfig } from './ingest/ingest.config';

/** Every config fragment ingest-bridge reads, composed once in main.ts. */
export const ingestBridgeConfigFragments = {
  http: httpServerConfig('INGEST_BRIDGE_PORT', 3001),
  observability: observabilityConfig,
  kafka: kafkaConfig,
  store: storeConfig,
  auth: authConfig,
  contract: contractConfig,
  ingest: ingestConfig,
};
