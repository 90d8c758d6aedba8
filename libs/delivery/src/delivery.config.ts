import { z } from 'zod';
import { configFragment, env } from '@herald/config';
import { isHeraldError } from '@herald/errors';
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS } from './webhook-client';
import { parseCidrList } from './ip-address';

const allowedNetworks = z
  .string()
  .optional()
  .transform((text, context) => {
    try {
      return parseCidrList(text ?? '').map((cidr) => cidr.text);
    } catch (error) {
      if (!isHeraldError(error)) throw error;
      context.addIssue({ code: 'custom', message: error.message });
      return z.NEVER;
    }
  })
  .describe(
    'a comma-separated list of CIDR blocks webhooks may reach despite the address policy, like 127.0.0.0/8,::1/128 (default none)',
  );

/** Settings for webhook URL checks and the webhook HTTP client. */
export const deliveryConfig = configFragment(
  {
    HERALD_ALLOWED_NETWORKS: allowedNetworks,
    HERALD_HTTPS_ONLY: env.flag(false),
    HERALD_DELIVERY_CONNECT_TIMEOUT_MS: env.positiveInt(DEFAULT_CONNECT_TIMEOUT_MS, 'milliseconds'),
    HERALD_DELIVERY_REQUEST_TIMEOUT_MS: env.positiveInt(DEFAULT_REQUEST_TIMEOUT_MS, 'milliseconds'),
  },
  (values) => ({
    /** Canonical CIDR blocks, for createAddressPolicy. */
    allowedNetworks: values.HERALD_ALLOWED_NETWORKS,
    httpsOnly: values.HERALD_HTTPS_ONLY,
    connectTimeoutMs: values.HERALD_DELIVERY_CONNECT_TIMEOUT_MS,
    requestTimeoutMs: values.HERALD_DELIVERY_REQUEST_TIMEOUT_MS,
  }),
);

export type DeliveryConfig = ReturnType<typeof deliveryConfig.build>;
