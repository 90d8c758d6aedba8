import { Counter, Gauge, type Registry } from 'prom-client';

export const CONSUMER_LAG_METRIC = 'herald_kafka_consumer_lag';
export const PUBLISH_REFUSED_METRIC = 'herald_kafka_publish_refused_total';
export const PUBLISHER_PARTITIONS_ADDED_METRIC = 'herald_kafka_publisher_partitions_added_total';
export const FETCH_LINGER_METRIC = 'herald_kafka_consumer_fetch_linger_seconds_total';

export type ConsumerLagGauge = Gauge<'group' | 'topic' | 'partition'>;

/**
 * `herald_kafka_consumer_lag{group,topic,partition}` on `registry`. Several runners in one
 * process share the registry, and prom-client refuses a second metric of the same name.
 */
export function consumerLagGauge(registry: Registry): ConsumerLagGauge {
  const existing = registry.getSingleMetric(CONSUMER_LAG_METRIC);
  if (existing) return existing as ConsumerLagGauge;
  return new Gauge({
    name: CONSUMER_LAG_METRIC,
    help: 'Records in a partition not yet committed by the consumer group (high watermark minus committed offset)',
    labelNames: ['group', 'topic', 'partition'],
    registers: [registry],
  });
}

/**
 * `herald_kafka_consumer_fetch_linger_seconds_total{group}` on `registry`: how long group
 * consumers held their next fetch back after one that brought records (`KAFKA_FETCH_LINGER_MS`).
 */
export function fetchLingerCounter(registry: Registry): Counter<'group'> {
  return counter(registry, {
    name: FETCH_LINGER_METRIC,
    help: 'Seconds group consumers held their next fetch back after a fetch that brought records (KAFKA_FETCH_LINGER_MS), so one fetch carries several records at moderate rates',
    labelNames: ['group'],
  });
}

/** What a `KafkaPublisher` counts; shared by the publishers of one registry. */
export interface PublisherMetrics {
  /** `herald_kafka_publish_refused_total{topic,error}` */
  readonly refused: Counter<'topic' | 'error'>;
  /** `herald_kafka_publisher_partitions_added_total{topic}` */
  readonly partitionsAdded: Counter<'topic'>;
}

export function publisherMetrics(registry: Registry): PublisherMetrics {
  return {
    refused: counter(registry, {
      name: PUBLISH_REFUSED_METRIC,
      help: "Partitions of produce requests Kafka refused (after kafkajs's retries), by topic and Kafka error name (MESSAGE_TOO_LARGE, NOT_ENOUGH_REPLICAS, ...); the request's other partitions are answered on their own",
      labelNames: ['topic', 'error'],
    }),
    partitionsAdded: counter(registry, {
      name: PUBLISHER_PARTITIONS_ADDED_METRIC,
      help: "Times the publisher saw a topic's partition count grow; keyed records are spread over the new count from then on",
      labelNames: ['topic'],
    }),
  };
}

function counter<L extends string>(
  registry: Registry,
  options: { name: string; help: string; labelNames: L[] },
): Counter<L> {
  const existing = registry.getSingleMetric(options.name);
  if (existing) return existing as Counter<L>;
  return new Counter({ ...options, registers: [registry] });
}
