import { configFragment, env } from '@herald/config';
import { z } from 'zod';

/** The embedded broker's address; used when KAFKA_BROKERS is unset (development and tests). */
export const EMBEDDED_BROKER = '127.0.0.1:9092';

export const kafkaConfig = configFragment(
  {
    KAFKA_BROKERS: env.hostPortList(),
    KAFKA_CLIENT_ID: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-"')
      .optional()
      .describe(
        'a client id of up to 64 letters, digits, ".", "_" or "-" (default: the service name)',
      ),
  },
  (v) => ({
    brokers: v.KAFKA_BROKERS ?? [EMBEDDED_BROKER],
    /** True when no brokers were configured and the embedded one is assumed. */
    embedded: v.KAFKA_BROKERS === undefined,
    clientId: v.KAFKA_CLIENT_ID,
  }),
);

export type KafkaConfig = ReturnType<typeof kafkaConfig.build>;
