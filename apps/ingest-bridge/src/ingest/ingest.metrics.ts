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

/** `herald_ingest_events_total{type,outcome}`; `type` is a contract type or `unknown`, so it stays bounded. */
export class IngestMetrics {
  private readonly events: Counter<'type' | 'outcome'>;

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
  }

  count(type: string, outcome: IngestOutcome, n = 1): void {
    this.events.inc({ type: this.knownTypes.has(type) ? type : 'unknown', outcome }, n);
  }
}
