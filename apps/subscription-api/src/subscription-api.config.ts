import { kafkaConfig } from '@herald/kafka';
import { httpServerConfig } from '@herald/http-server';
import { observabilityConfig } from '@herald/observability';
import { storeConfig } from '@herald/store';

/** Every config fragment subscription-api reads, composed once in main.ts. */
export const subscriptionApiConfigFragments = {
  http: httpServerConfig('SUBSCRIPTION_API_PORT', 3000),
  observability: observabilityConfig,
  kafka: kafkaConfig,
  store: storeConfig,
};
