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
    KAFKA_PUBLISH_TIMEOUT_MS: env.positiveInt(10_000, 'milliseconds'),
    KAFKA_LINGER_MS: env.nonNegativeInt(0, 'milliseconds'),
    KAFKA_PUBLISH_MAX_BATCH_BYTES: env.positiveInt(524_288, 'bytes'),
    KAFKA_PRODUCER_METADATA_MAX_AGE_MS: env.positiveInt(30_000, 'milliseconds'),
    KAFKA_LAG_INTERVAL_MS: env.positiveInt(10_000, 'milliseconds'),
    KAFKA_FETCH_MIN_BYTES: env.positiveInt(1, 'bytes'),
    KAFKA_FETCH_MAX_WAIT_MS: env.positiveInt(500, 'milliseconds'),
    KAFKA_FETCH_LINGER_MS: env.nonNegativeInt(10, 'milliseconds', { max: 1000 }),
    KAFKA_CONSUMER_METADATA_MAX_AGE_MS: env.positiveInt(30_000, 'milliseconds'),
  },
  (v) => ({
    brokers: v.KAFKA_BROKERS ?? [EMBEDDED_BROKER],
    /** True when no brokers were configured and the embedded one is assumed. */
    embedded: v.KAFKA_BROKERS === undefined,
    clientId: v.KAFKA_CLIENT_ID,
    publish: {
      /** How long `publish` may take before it fails with `kafka.unavailable` (ms, default 10000). */
      timeoutMs: v.KAFKA_PUBLISH_TIMEOUT_MS,
      /** How long to wait for more records before sending (ms, default 0 = the next turn of the event loop). */
      lingerMs: v.KAFKA_LINGER_MS,
      /**
       * Coalesced publishes stop growing a request past this many bytes (default 512 KiB, so record
       * overhead cannot push a partition's batch past Kafka's 1 MiB `message.max.bytes`); one
       * publish call is never split.
       */
      maxBatchBytes: v.KAFKA_PUBLISH_MAX_BATCH_BYTES,
      /**
       * How old the publisher's view of the topics may grow (ms, default 30000): a partition added
       * to a topic gets keyed records (the key's murmur2 over the new count) within about this
       * long. kafkajs's own default, 5 minutes, kept writing keyed records to the old partitions
       * that long.
       */
      metadataMaxAgeMs: v.KAFKA_PRODUCER_METADATA_MAX_AGE_MS,
    },
    consumer: {
      /** How often consumer lag is refreshed from the broker between batches (ms, default 10000). */
      lagIntervalMs: v.KAFKA_LAG_INTERVAL_MS,
      /**
       * A consumer group's fetch is answered once this many bytes are ready (default 1: at once),
       * or after `fetchMaxWaitMs`; more than 1 lets a fetch carry several records at moderate rates.
       */
      fetchMinBytes: v.KAFKA_FETCH_MIN_BYTES,
      /** The longest a fetch waits for `fetchMinBytes` (ms, default 500). */
      fetchMaxWaitMs: v.KAFKA_FETCH_MAX_WAIT_MS,
      /**
       * After a fetch that brought records, the next fetch begins no sooner than this long after
       * it did (ms, default 10, at most 1000; 0 = at once; only for consumers that handle several
       * partitions at once). At a moderate rate one fetch then carries several
       * records instead of one each; an idle consumer's fetches bring nothing and never wait.
       */
      fetchLingerMs: v.KAFKA_FETCH_LINGER_MS,
      /**
       * How old a consumer group member's view of its topics may grow (ms, default 30000): a
       * partition added to a topic is assigned (one rebalance) and read within about this long.
       * kafkajs's own default, 5 minutes, left new partitions unread that long.
       */
      metadataMaxAgeMs: v.KAFKA_CONSUMER_METADATA_MAX_AGE_MS,
    },
  }),
);

export type KafkaConfig = ReturnType<typeof kafkaConfig.build>;
