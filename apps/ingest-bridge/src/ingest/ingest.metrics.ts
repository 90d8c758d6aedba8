import { Counter } from 'prom-client';
import type { MetricsRegistry } from '@herald/observability';

export type IngestOutcome =
  | 'accepted'
  | 'duplicate'
  | 'invalid'
  | 'unknown_type'
  | 'forbidden'
  | 'too_large'
  | 'rate_limited'
  | 'conflict'
  | 'unavailable';

/** What an ingest request was waiting for on Redis when it gave up. */
export type RedisOperation = 'authenticate' | 'reserve' | 'record' | 'release';

/**
 * `herald_ingest_events_total{type,outcome}`; `type` is a contract type or `unknown`, so it stays
 * bounded. `herald_ingest_redis_unavailable_total{operation}`: Redis calls ingest gave up on.
 */
export class IngestMetrics {
  private readonly events: Counter<'type' | 'outcome'>;
  private readonly redisUnavailable: Counter<'operation'>;

  constructor(
    metrics: MetricsRegistry,
    private readonly knownTypes: ReadonlySet<string>,
  ) {
    this.events = new Counter({
      name: 'herald_ingest_events_total',
      help: 'Events offered to ingest over HTTP, by event type and outcome',
      labelNames: ['type', 'outcome'],
      registers: [metrics.registry],
    });
    this.redisUnavailable = new Counter({
      name: 'herald_ingest_redis_unavailable_total',
      help: 'Redis calls of HTTP ingest given up on (Redis disconnected or slower than HERALD_INGEST_REDIS_TIMEOUT_MS); authenticate and reserve answer 503',
      labelNames: ['operation'],
      registers: [metrics.registry],
    });
  }

  countRedisUnavailable(operation: RedisOperation): void {
    this.redisUnavailable.inc({ operation });
  }

  count(type: string, outcome: IngestOutcome, n = 1): void {
    this.events.inc({ type: this.knownTypes.has(type) ? type : 'unknown', outcome }, n);
  }
}
