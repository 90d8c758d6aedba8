/**
 * The metric names of SPEC §8, the list the deploy checks hold dashboards and alert rules to
 * (with OPERATIONS_METRICS below). `histogram` metrics are also queried through their
 * `_bucket`, `_sum` and `_count` series.
 */
export const SPEC_METRICS = {
  herald_ingest_events_total: 'counter',
  herald_http_request_duration_seconds: 'histogram',
  herald_bridge_records_total: 'counter',
  herald_kafka_consumer_lag: 'gauge',
  herald_deliveries_total: 'counter',
  herald_delivery_attempt_duration_seconds: 'histogram',
  herald_event_delivery_latency_seconds: 'histogram',
  herald_retries_pending: 'gauge',
  herald_dead_letters_total: 'counter',
  herald_subscriptions: 'gauge',
  herald_stream_connections: 'gauge',
  herald_stream_events_sent_total: 'counter',
  herald_stream_slow_disconnects_total: 'counter',
} as const satisfies Record<string, 'counter' | 'gauge' | 'histogram'>;

/**
 * Metrics beyond SPEC §8 that the alert rules or the dashboard use, each with the source file
 * that registers it (the deploy checks hold that file to the name, so a rename there fails them).
 */
export const OPERATIONS_METRICS = {
  herald_subscriptions_secrets_unusable: 'apps/fanout/src/subscriptions/subscriptions.module.ts',
  herald_stream_gaps_total: 'apps/fanout/src/streams/streams.metrics.ts',
  herald_stream_filter_errors_total: 'apps/fanout/src/streams/streams.metrics.ts',
  herald_kafka_consumer_fetch_linger_seconds_total: 'libs/kafka/src/kafka.metrics.ts',
  herald_delivery_stale_index_records: 'apps/fanout/src/delivery/delivery.metrics.ts',
} as const satisfies Record<string, string>;

/** prom-client's default process metrics (collectDefaultMetrics), which SPEC §8 includes. */
const DEFAULT_METRIC_PREFIXES = ['process_', 'nodejs_'];

/** The base SPEC §8 name a series name belongs to, or null when it belongs to none. */
export function specMetricOf(series: string): string | null {
  if (series in SPEC_METRICS) return series;
  const base = series.replace(/_(bucket|sum|count)$/, '');
  return base !== series && SPEC_METRICS[base as keyof typeof SPEC_METRICS] === 'histogram'
    ? base
    : null;
}

/** True for a SPEC §8 series, one of OPERATIONS_METRICS or a default process metric. */
export function isKnownHeraldSeries(series: string): boolean {
  return (
    specMetricOf(series) !== null ||
    series in OPERATIONS_METRICS ||
    DEFAULT_METRIC_PREFIXES.some((prefix) => series.startsWith(prefix))
  );
}
