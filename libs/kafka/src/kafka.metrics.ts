import { Gauge, type Registry } from 'prom-client';

export const CONSUMER_LAG_METRIC = 'herald_kafka_consumer_lag';

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
