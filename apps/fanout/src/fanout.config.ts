import { authConfig } from '@herald/auth';
import { kafkaConfig } from '@herald/kafka';
import { httpServerConfig } from '@herald/http-server';
import { observabilityConfig } from '@herald/observability';
import { secretKeyConfig, storeConfig } from '@herald/store';
import { contractConfig } from '@herald/contract';
import { deliveryConfig } from '@herald/delivery';
import { fanoutDeliveryConfig } from './delivery/delivery.config';
import { streamsConfig } from './streams/streams.config';

/** Every config fragment fanout reads, composed once in main.ts. */
export const fanoutConfigFragments = {
  http: httpServerConfig('FANOUT_PORT', 3002),
  observability: observabilityConfig,
  kafka: kafkaConfig,
  store: storeConfig,
  secretKey: secretKeyConfig,
  contract: contractConfig,
  delivery: deliveryConfig,
  fanoutDelivery: fanoutDeliveryConfig,
  auth: authConfig,
  streams: streamsConfig,
};
