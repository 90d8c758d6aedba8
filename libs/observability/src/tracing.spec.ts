import {
  formatTraceparent,
  parseTraceparent,
  Tracer,
  type FinishedSpan,
  type SpanExporter,
} from './tracing';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';
const SAMPLED = `00-${TRACE_ID}-${SPAN_ID}-01`;

class ListExporter implements SpanExporter {
  readonly spans: FinishedSpan[] = [];
  export(span: FinishedSpan): void {
    this.spans.push(span);
  }
  async shutdown(): Promise<void> {}
}

describe('parseTraceparent', () => {
  it('reads the ids and the sampled flag', () => {
    expect(parseTraceparent(SAMPLED)).toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      sampled: true,
    });
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-00`)?.sampled).toBe(false);
    // Only bit 0 means sampled; other bits must not switch it on.
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-02`)?.sampled).toBe(false);
  });

  it.each([
    ['absent', undefined],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN_ID}-01`],
    ['all-zero span id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['another version', `01-${TRACE_ID}-${SPAN_ID}-01`],
    ['upper-case hex', `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`],
    ['a short trace id', `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`],
    ['garbage', 'nope'],
  ])('rejects %s', (_, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it('formats what it parses back to the same header', () => {
    expect(formatTraceparent(parseTraceparent(SAMPLED)!)).toBe(SAMPLED);
  });
});

describe('Tracer', () => {
  it('when off, passes the incoming traceparent through and records nothing', () => {
    const span = new Tracer().startSpan('x', { kind: 'server', traceparent: SAMPLED });
    expect(span.recording).toBe(false);
    expect(span.traceparent()).toBe(SAMPLED);
    span.end();
    expect(new Tracer().startSpan('x', { kind: 'server' }).traceparent()).toBeUndefined();
  });

  it('continues the incoming trace with a new span id as the child parent', () => {
    const exporter = new ListExporter();
    const span = new Tracer(exporter).startSpan('herald.ingest', {
      kind: 'server',
      traceparent: SAMPLED,
      attributes: { 'herald.event.count': 2 },
    });
    const child = parseTraceparent(span.traceparent())!;
    expect(child.traceId).toBe(TRACE_ID);
    expect(child.spanId).not.toBe(SPAN_ID);
    expect(child.sampled).toBe(true);
    span.setAttribute('extra', 'yes');
    span.end(new Error('boom'));
    span.end();
    expect(exporter.spans).toHaveLength(1);
    expect(exporter.spans[0]).toMatchObject({
      traceId: TRACE_ID,
      spanId: child.spanId,
      parentSpanId: SPAN_ID,
      name: 'herald.ingest',
      kind: 'server',
      attributes: { 'herald.event.count': 2, extra: 'yes' },
      error: 'boom',
    });
    expect(exporter.spans[0]!.endTimeUnixNano).toBeGreaterThanOrEqual(
      exporter.spans[0]!.startTimeUnixNano,
    );
  });

  it('starts a new root trace without (or with a malformed) traceparent', () => {
    const exporter = new ListExporter();
    const tracer = new Tracer(exporter);
    for (const traceparent of [undefined, 'nope']) {
      const span = tracer.startSpan('x', { kind: 'server', traceparent });
      const child = parseTraceparent(span.traceparent())!;
      expect(child.sampled).toBe(true);
      span.end();
      expect(exporter.spans.at(-1)).toMatchObject({
        traceId: child.traceId,
        parentSpanId: undefined,
      });
    }
  });

  it('leaves an unsampled trace alone: not recorded, traceparent unchanged', () => {
    const exporter = new ListExporter();
    const unsampled = `00-${TRACE_ID}-${SPAN_ID}-00`;
    const span = new Tracer(exporter).startSpan('x', { kind: 'server', traceparent: unsampled });
    expect(span.recording).toBe(false);
    expect(span.traceparent()).toBe(unsampled);
    span.end();
    expect(exporter.spans).toHaveLength(0);
  });
});
