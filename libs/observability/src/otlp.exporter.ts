import type { Counter } from 'prom-client';
import type { Logger } from './logger';
import { SpanKind, type AttributeValue, type FinishedSpan, type SpanExporter } from './tracing';

export interface OtlpExporterOptions {
  /** Collector base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`); spans go to `{endpoint}/v1/traces`. */
  endpoint: string;
  /** `service.name` on the resource. */
  serviceName: string;
  logger: Pick<Logger, 'warn' | 'info'>;
  /** Counts each span by what became of it (`MetricsRegistry.traceSpans`): see `SpanOutcome`. */
  spans: Counter<'outcome'>;
  /** How often queued spans are sent, in milliseconds. Default 1000. */
  flushIntervalMs?: number;
  /** Spans per request; a full batch is sent at once rather than waiting for the timer. Default 512. */
  maxBatchSize?: number;
  /** Spans held while the collector is slow or down; newer spans beyond this are dropped. Default 2048. */
  maxQueueSize?: number;
  /** Each export request is abandoned after this many milliseconds. Default 5000. */
  requestTimeoutMs?: number;
}

/**
 * What became of an ended span: `exported` (the collector took it), `dropped` (the queue was full
 * or the exporter shut down) or `failed` (its batch could not be sent; it is not retried).
 */
export type SpanOutcome = 'exported' | 'dropped' | 'failed';

type OtlpAnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: OtlpAnyValue[] } };

function encodeValue(value: AttributeValue): OtlpAnyValue {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number')
    // int64 travels as a decimal string in OTLP JSON, so large counts are not rounded.
    return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  return { arrayValue: { values: value.map((item) => ({ stringValue: item })) } };
}

function encodeAttributes(attributes: Record<string, AttributeValue>) {
  return Object.entries(attributes).map(([key, value]) => ({ key, value: encodeValue(value) }));
}

const STATUS_OK = 1;
const STATUS_ERROR = 2;

/** The OTLP/HTTP JSON body (`ExportTraceServiceRequest`) for one batch of spans. */
export function encodeOtlpTraces(serviceName: string, spans: readonly FinishedSpan[]) {
  return {
    resourceSpans: [
      {
        resource: { attributes: encodeAttributes({ 'service.name': serviceName }) },
        scopeSpans: [
          {
            scope: { name: 'herald' },
            spans: spans.map((span) => ({
              traceId: span.traceId,
              spanId: span.spanId,
              ...(span.parentSpanId === undefined ? {} : { parentSpanId: span.parentSpanId }),
              name: span.name,
              kind: SpanKind[span.kind],
              startTimeUnixNano: span.startTimeUnixNano.toString(),
              endTimeUnixNano: span.endTimeUnixNano.toString(),
              attributes: encodeAttributes(span.attributes),
              status:
                span.error === undefined
                  ? { code: STATUS_OK }
                  : { code: STATUS_ERROR, message: span.error },
            })),
          },
        ],
      },
    ],
  };
}

/**
 * Batches ended spans and POSTs them as OTLP/HTTP JSON. Tracing must never hurt the request path:
 * `export` only appends to a bounded queue, sending happens on a timer, and failures are counted
 * (`herald_trace_spans_total{outcome}`) and logged, never thrown.
 */
export class OtlpExporter implements SpanExporter {
  private readonly url: string;
  private readonly flushIntervalMs: number;
  private readonly maxBatchSize: number;
  private readonly maxQueueSize: number;
  private readonly requestTimeoutMs: number;
  private readonly queue: FinishedSpan[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly outcomes: Record<SpanOutcome, Counter.Internal>;
  // One send at a time keeps batches in order and caps concurrent requests to the collector at one.
  private sending: Promise<void> = Promise.resolve();
  private failing = false;
  private closed = false;

  constructor(private readonly options: OtlpExporterOptions) {
    this.url = `${options.endpoint.replace(/\/+$/, '')}/v1/traces`;
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.maxBatchSize = options.maxBatchSize ?? 512;
    this.maxQueueSize = options.maxQueueSize ?? 2048;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    const outcome = (name: SpanOutcome) => {
      const child = options.spans.labels({ outcome: name });
      // Every outcome is shown from the start, so a rate over it is 0 rather than absent.
      child.inc(0);
      return child;
    };
    this.outcomes = {
      exported: outcome('exported'),
      dropped: outcome('dropped'),
      failed: outcome('failed'),
    };
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
    // The timer alone must not keep a finished process (or a test) alive.
    this.timer.unref();
  }

  export(span: FinishedSpan): void {
    if (this.closed || this.queue.length >= this.maxQueueSize) {
      this.outcomes.dropped.inc();
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.maxBatchSize) void this.flush();
  }

  /** Sends everything queued so far, in batches. Resolves when done; never rejects. */
  flush(): Promise<void> {
    this.sending = this.sending.then(async () => {
      while (this.queue.length > 0) await this.send(this.queue.splice(0, this.maxBatchSize));
    });
    return this.sending;
  }

  async shutdown(): Promise<void> {
    if (this.closed) return this.sending;
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
  }

  private async send(batch: FinishedSpan[]): Promise<void> {
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(encodeOtlpTraces(this.options.serviceName, batch)),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      // Drain the body so the connection can be reused.
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`collector answered ${response.status}`);
      this.outcomes.exported.inc(batch.length);
      if (this.failing) {
        this.failing = false;
        this.options.logger.info({ url: this.url }, 'span export recovered');
      }
    } catch (error) {
      this.outcomes.failed.inc(batch.length);
      // Log the transition only: a collector that is down would otherwise log once per second.
      if (!this.failing) {
        this.failing = true;
        this.options.logger.warn(
          { err: error, url: this.url },
          'span export failed; dropping spans',
        );
      }
    }
  }
}
