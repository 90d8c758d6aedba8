import { randomBytes } from 'node:crypto';

/** The part of a W3C trace context a span needs: whose trace, which parent, and whether sampled. */
export interface TraceContext {
  /** 32 lowercase hex digits, never all zero. */
  traceId: string;
  /** 16 lowercase hex digits, never all zero. */
  spanId: string;
  sampled: boolean;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
/** The shape of any version's `traceparent` (version-traceid-parentid-flags, lower-case hex). */
const TRACEPARENT_SHAPE = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * Whether `value` has the shape of a W3C `traceparent` of any version: what may be taken from a
 * producer and passed on in a header as it is (ingest refuses others, webhooks drop them).
 */
export function isTraceparent(value: string): boolean {
  return TRACEPARENT_SHAPE.test(value);
}
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/**
 * Reads a `traceparent` header value (version 00 only). Returns undefined for anything malformed,
 * including all-zero ids, which the W3C spec says must be treated as absent.
 */
export function parseTraceparent(value: string | undefined): TraceContext | undefined {
  if (value === undefined) return undefined;
  const match = TRACEPARENT.exec(value.trim());
  if (!match) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 0x01) === 0x01 };
}

/** The `traceparent` header value for a context; only the sampled flag is defined at version 00. */
export function formatTraceparent({ traceId, spanId, sampled }: TraceContext): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

export function newTraceId(): string {
  return randomHex(16, ZERO_TRACE_ID);
}

export function newSpanId(): string {
  return randomHex(8, ZERO_SPAN_ID);
}

function randomHex(bytes: number, zero: string): string {
  // All zero is invalid on the wire; with 64+ random bits this loop virtually never repeats.
  for (;;) {
    const hex = randomBytes(bytes).toString('hex');
    if (hex !== zero) return hex;
  }
}

/** OpenTelemetry's span kinds that Herald uses; the number is the OTLP encoding. */
export const SpanKind = {
  server: 2,
  client: 3,
  producer: 4,
  consumer: 5,
} as const;
export type SpanKind = keyof typeof SpanKind;

export type AttributeValue = string | number | boolean | readonly string[];
export type Attributes = Record<string, AttributeValue>;

export interface SpanOptions {
  /** The incoming W3C `traceparent`; a malformed or absent one starts a new trace. */
  traceparent?: string | undefined;
  kind: SpanKind;
  attributes?: Attributes;
}

/** A span as handed to the exporter once it has ended. */
export interface FinishedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: SpanKind;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  error: string | undefined;
}

/** Where ended spans go; the OTLP exporter in production, a list in tests. */
export interface SpanExporter {
  export(span: FinishedSpan): void;
  shutdown(): Promise<void>;
}

export interface Span {
  /** Whether this span is recorded and exported (false when tracing is off or the trace unsampled). */
  readonly recording: boolean;
  /**
   * The `traceparent` to send downstream: this span as the parent when recording, otherwise the
   * incoming value unchanged (undefined if there was none).
   */
  traceparent(): string | undefined;
  setAttribute(key: string, value: AttributeValue): void;
  /** Ends the span, with error status when `error` is given. Later calls are ignored. */
  end(error?: unknown): void;
}

class PassThroughSpan implements Span {
  readonly recording = false;
  constructor(private readonly incoming: string | undefined) {}
  traceparent(): string | undefined {
    return this.incoming;
  }
  setAttribute(): void {}
  end(): void {}
}

// Wall-clock anchor plus the monotonic clock: nanosecond resolution that cannot run backwards.
const CLOCK_ANCHOR_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
function nowUnixNano(): bigint {
  return CLOCK_ANCHOR_NS + process.hrtime.bigint();
}

class RecordingSpan implements Span {
  readonly recording = true;
  private readonly spanId = newSpanId();
  private readonly startTimeUnixNano = nowUnixNano();
  private readonly attributes: Attributes;
  private ended = false;

  constructor(
    private readonly exporter: SpanExporter,
    private readonly name: string,
    private readonly kind: SpanKind,
    private readonly traceId: string,
    private readonly parentSpanId: string | undefined,
    attributes: Attributes,
  ) {
    this.attributes = { ...attributes };
  }

  traceparent(): string {
    return formatTraceparent({ traceId: this.traceId, spanId: this.spanId, sampled: true });
  }

  setAttribute(key: string, value: AttributeValue): void {
    if (!this.ended) this.attributes[key] = value;
  }

  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.exporter.export({
      traceId: this.traceId,
      spanId: this.spanId,
      parentSpanId: this.parentSpanId,
      name: this.name,
      kind: this.kind,
      startTimeUnixNano: this.startTimeUnixNano,
      endTimeUnixNano: nowUnixNano(),
      attributes: this.attributes,
      error: error === undefined ? undefined : describeError(error),
    });
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/**
 * Starts spans. Without an exporter (tracing not configured) every span is a pass-through that
 * allocates nothing but itself and forwards the incoming `traceparent` untouched.
 */
export class Tracer {
  constructor(private readonly exporter?: SpanExporter) {}

  get enabled(): boolean {
    return this.exporter !== undefined;
  }

  startSpan(name: string, { traceparent, kind, attributes = {} }: SpanOptions): Span {
    if (!this.exporter) return new PassThroughSpan(traceparent);
    const parent = parseTraceparent(traceparent);
    // Follow the caller's sampling decision: an unsampled trace is neither recorded nor altered.
    if (parent && !parent.sampled) return new PassThroughSpan(traceparent);
    return new RecordingSpan(
      this.exporter,
      name,
      kind,
      parent?.traceId ?? newTraceId(),
      parent?.spanId,
      attributes,
    );
  }

  /** Sends what is still queued; call once on shutdown. Never rejects. */
  async shutdown(): Promise<void> {
    await this.exporter?.shutdown();
  }
}
