import { ConfigError, configFragment, env } from '@herald/config';

export const ingestConfig = configFragment(
  {
    HERALD_MAX_EVENT_BYTES: env.positiveInt(256 * 1024, 'bytes'),
    HERALD_MAX_BATCH_EVENTS: env.positiveInt(1000, 'events'),
    HERALD_INGEST_RATE_PER_KEY: env.nonNegativeInt(0, 'events per second (0 = unlimited)'),
    HERALD_INGEST_BURST_PER_KEY: env.positiveInt(1000, 'events'),
    HERALD_KAFKA_RETRY_AFTER_SECONDS: env.positiveInt(5, 'seconds'),
    HERALD_INGEST_REDIS_TIMEOUT_MS: env.positiveInt(2000, 'milliseconds'),
    HERALD_REDIS_RETRY_AFTER_SECONDS: env.positiveInt(5, 'seconds'),
    HERALD_BRIDGE_SESSION_TIMEOUT_MS: env.positiveInt(30_000, 'milliseconds'),
  },
  (v) => {
    refuseBurstBelowBatch(
      v.HERALD_INGEST_RATE_PER_KEY,
      v.HERALD_INGEST_BURST_PER_KEY,
      v.HERALD_MAX_BATCH_EVENTS,
    );
    return {
      /**
       * Largest event accepted, in bytes (SPEC §4: 256 KiB): its record as Kafka stores it, data
       * plus key and CloudEvent headers. The bridge holds raw records' values to it.
       */
      maxEventBytes: v.HERALD_MAX_EVENT_BYTES,
      /** Most events in one batch request (SPEC §4: 1,000). */
      maxBatchEvents: v.HERALD_MAX_BATCH_EVENTS,
      /** Sustained events per second one API key may publish; 0 turns the limit off. */
      ratePerKey: v.HERALD_INGEST_RATE_PER_KEY,
      /**
       * Events a key may publish at once above its rate; at least `maxBatchEvents` while the rate
       * is on (a start with less is refused: a larger batch could never pass).
       */
      burstPerKey: v.HERALD_INGEST_BURST_PER_KEY,
      /** `Retry-After` sent with a 503 when Kafka cannot take the write. */
      kafkaRetryAfterSeconds: v.HERALD_KAFKA_RETRY_AFTER_SECONDS,
      /**
       * How long an ingest request waits for Redis (API key lookup, event-id reservation, recording
       * results), in ms, before it gives up (503 before the write; after it, still 202). While Redis
       * is disconnected, or after one call missed this until Redis answers again (RedisDeadline's
       * circuit), none is even tried.
       */
      redisTimeoutMs: v.HERALD_INGEST_REDIS_TIMEOUT_MS,
      /** `Retry-After` sent with a 503 when Redis does not answer. */
      redisRetryAfterSeconds: v.HERALD_REDIS_RETRY_AFTER_SECONDS,
      /** How long the group waits for a bridge instance that stopped answering (a crash) before its partitions move. */
      bridgeSessionTimeoutMs: v.HERALD_BRIDGE_SESSION_TIMEOUT_MS,
    };
  },
);

/**
 * A batch takes as many tokens as it has events, and a key's bucket never holds more than the
 * burst: with the rate limit on, a batch larger than the burst would be answered 429 with a
 * `Retry-After` for ever. Such a configuration is refused at start instead.
 */
function refuseBurstBelowBatch(ratePerKey: number, burstPerKey: number, maxBatchEvents: number) {
  if (ratePerKey === 0 || burstPerKey >= maxBatchEvents) return;
  throw new ConfigError([
    {
      variable: 'HERALD_INGEST_BURST_PER_KEY',
      expected: `at least HERALD_MAX_BATCH_EVENTS (${maxBatchEvents}) while HERALD_INGEST_RATE_PER_KEY is on`,
      problem: `a batch of more than ${burstPerKey} events could never pass the rate limit; raise the burst or lower HERALD_MAX_BATCH_EVENTS`,
      received: JSON.stringify(String(burstPerKey)),
    },
  ]);
}

export type IngestConfig = ReturnType<typeof ingestConfig.build>;
