import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The process's one Prometheus registry, with Node's default process metrics. Every metric of
 * the process is registered here, so `/metrics` shows all of them and tests can read them.
 */
export class MetricsRegistry {
  readonly registry = new Registry();
  /** `herald_http_request_duration_seconds{route,method,status_class}`: route is the template, never the raw URL. */
  readonly httpRequestDuration: Histogram<'route' | 'method' | 'status_class'>;
  /** `herald_contract_documents{source}`: the contract's documents at the last load, by where their parse came from. */
  readonly contractDocuments: Gauge<'source'>;
  /** `herald_trace_spans_total{outcome}`: spans sent to the OTLP collector, or lost (`SpanOutcome`). */
  readonly traceSpans: Counter<'outcome'>;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.httpRequestDuration = new Histogram({
      name: 'herald_http_request_duration_seconds',
      help: 'HTTP request handling time by route template, method and status class',
      labelNames: ['route', 'method', 'status_class'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.contractDocuments = new Gauge({
      name: 'herald_contract_documents',
      help: 'AsyncAPI documents of the contract at the last load, by source: parser (read and checked now) or cache (parsed at an earlier start)',
      labelNames: ['source'],
      registers: [this.registry],
    });
    this.traceSpans = new Counter({
      name: 'herald_trace_spans_total',
      help: 'Spans of sampled traces by outcome: exported to the OTLP collector, dropped (queue full, or ended after shutdown) or failed (the collector refused or could not be reached)',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
  }

  contentType(): string {
    return this.registry.contentType;
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
