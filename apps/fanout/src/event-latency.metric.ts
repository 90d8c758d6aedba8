import { Histogram } from 'prom-client';
import type { MetricsRegistry } from '@herald/observability';

export const EVENT_DELIVERY_LATENCY_METRIC = 'herald_event_delivery_latency_seconds';

/** How an event reached its subscriber: the webhook engine or one of the stream transports. */
export type DeliveryTransport = 'webhook' | 'sse' | 'ws' | 'poll';

export type EventDeliveryLatency = Histogram<'transport'>;

/**
 * `herald_event_delivery_latency_seconds{transport}`: event time (`ce_time`) to delivery. The
 * webhook engine and the streams both observe it, so it is defined once here and fetched from
 * the registry by whoever comes second (prom-client refuses to register a name twice).
 */
export function eventDeliveryLatency(metrics: MetricsRegistry): EventDeliveryLatency {
  const existing = metrics.registry.getSingleMetric(EVENT_DELIVERY_LATENCY_METRIC);
  if (existing) return existing as EventDeliveryLatency;
  return new Histogram({
    name: EVENT_DELIVERY_LATENCY_METRIC,
    help: 'Time from the event time (ce_time) to its delivery, by transport',
    labelNames: ['transport'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600],
    registers: [metrics.registry],
  });
}

/** Seconds from an RFC 3339 event time to `now`; null when the time does not parse. */
export function secondsSince(eventTime: string, now = Date.now()): number | null {
  const at = Date.parse(eventTime);
  return Number.isNaN(at) ? null : Math.max(0, (now - at) / 1000);
}
