import { authConfig } from '@herald/auth';
import { contractConfig } from '@herald/contract';
import { deliveryConfig } from '@herald/delivery';
import { kafkaConfig } from '@herald/kafka';
import { httpServerConfig } from '@herald/http-server';
import { observabilityConfig } from '@herald/observability';
import { secretKeyConfig, storeConfig } from '@herald/store';
import { consoleConfig } from './console/console.config';
import { subscriptionsConfig } from './subscriptions/subscriptions.config';

/** Every config fragment subscription-api reads, composed once in main.ts. */
export const subscriptionApiConfigFragments = {
  http: httpServerConfig('SUBSCRIPTION_API_PORT', 3000),
  observability: observabilityConfig,
  kafka: kafkaConfig,
  store: storeConfig,
  secretKey: secretKeyConfig,
  auth: authConfig,
  contract: contractConfig,
  delivery: deliveryConfig,
  subscriptions: subscriptionsConfig,
  console: consoleConfig,
};
