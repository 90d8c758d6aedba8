import { Counter } from 'prom-client';
import type { MetricsRegistry } from '@herald/observability';
import type { RedisUnavailableReason } from '@herald/store';

export type IngestOutcome =
  | 'accepted'
  | 'duplicate'
  | 'invalid'
  | 'unknown_type'
  | 'forbidden'
  | 'too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'conflict'
  | 'id_reused'
  | 'unavailable';

/** What an ingest request was waiting for on Redis when it gave up. */
export type RedisOperation = 'authenticate' | 'reserve' | 'record' | 'release';

/**
 * `herald_ingest_events_total{type,outcome}`; `type` is a contract type or `unknown`, so it stays
 * bounded. `herald_ingest_redis_unavailable_total{operation,reason}`: Redis calls ingest gave up
 * on (`timeout`, `error`) or refused without issuing them while the circuit was open (`refused`).
 */
export class IngestMetrics {
  private readonly events: Counter<'type' | 'outcome'>;
  private readonly redisUnavailable: Counter<'operation' | 'reason'>;

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
      help: 'Redis calls of HTTP ingest given up on (reason timeout: slower than HERALD_INGEST_REDIS_TIMEOUT_MS; error) or refused unsent while Redis is disconnected or has not answered since one timed out (reason refused); authenticate and reserve answer 503',
      labelNames: ['operation', 'reason'],
      registers: [metrics.registry],
    });
  }

  countRedisUnavailable(operation: RedisOperation, reason: RedisUnavailableReason): void {
    this.redisUnavailable.inc({ operation, reason });
  }

  count(type: string, outcome: IngestOutcome, n = 1): void {
    this.events.inc({ type: this.knownTypes.has(type) ? type : 'unknown', outcome }, n);
  }
}
