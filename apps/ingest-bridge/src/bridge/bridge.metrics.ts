import { Counter } from 'prom-client';
import type { MetricsRegistry } from '@herald/observability';

export type BridgeOutcome = 'republished' | 'dead_lettered';

/** `herald_bridge_records_total{source,outcome}`: `source` is a contract source topic, so bounded. */
export class BridgeMetrics {
  private readonly records: Counter<'source' | 'outcome'>;

  constructor(metrics: MetricsRegistry) {
    this.records = new Counter({
      name: 'herald_bridge_records_total',
      help: 'Raw records read from producer source topics, by source topic and outcome',
      labelNames: ['source', 'outcome'],
      registers: [metrics.registry],
    });
  }

  count(source: string, outcome: BridgeOutcome, n: number): void {
    if (n > 0) this.records.inc({ source, outcome }, n);
  }
}
