import { MetricsRegistry } from './metrics.registry';
import { encodeOtlpTraces, OtlpExporter } from './otlp.exporter';
import type { FinishedSpan } from './tracing';

const span: FinishedSpan = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: '00f067aa0ba902b7',
  parentSpanId: 'b7ad6b7169203331',
  name: 'herald.ingest',
  kind: 'server',
  startTimeUnixNano: 1_700_000_000_000_000_001n,
  endTimeUnixNano: 1_700_000_000_250_000_000n,
  attributes: { count: 3, ratio: 0.5, ok: true, type: 'order.created', types: ['a', 'b'] },
  error: undefined,
};

const silent = { warn: () => undefined, info: () => undefined };

describe('encodeOtlpTraces', () => {
  it('builds an OTLP/HTTP JSON ExportTraceServiceRequest', () => {
    expect(encodeOtlpTraces('herald-test', [span])).toEqual({
      resourceSpans: [
        {
          resource: {
            attributes: [{ key: 'service.name', value: { stringValue: 'herald-test' } }],
          },
          scopeSpans: [
            {
              scope: { name: 'herald' },
              spans: [
                {
                  traceId: span.traceId,
                  spanId: span.spanId,
                  parentSpanId: span.parentSpanId,
                  name: 'herald.ingest',
                  kind: 2,
                  // Nanosecond timestamps are strings: a JSON number would lose precision.
                  startTimeUnixNano: '1700000000000000001',
                  endTimeUnixNano: '1700000000250000000',
                  attributes: [
                    { key: 'count', value: { intValue: '3' } },
                    { key: 'ratio', value: { doubleValue: 0.5 } },
                    { key: 'ok', value: { boolValue: true } },
                    { key: 'type', value: { stringValue: 'order.created' } },
                    {
                      key: 'types',
                      value: {
                        arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] },
                      },
                    },
                  ],
                  status: { code: 1 },
                },
              ],
            },
          ],
        },
      ],
    });
  });

  it('marks failed spans with error status, and omits the parent of a root span', () => {
    const [encoded] = encodeOtlpTraces('s', [
      { ...span, kind: 'consumer', parentSpanId: undefined, error: 'boom' },
    ]).resourceSpans[0]!.scopeSpans[0]!.spans;
    expect(encoded).not.toHaveProperty('parentSpanId');
    expect(encoded!.kind).toBe(5);
    expect(encoded!.status).toEqual({ code: 2, message: 'boom' });
  });
});

describe('OtlpExporter', () => {
  it('counts spans beyond the queue bound as dropped and never throws when the collector is down', async () => {
    const metrics = new MetricsRegistry('unit');
    // Port 9 (discard) on localhost: nothing listens, so every send fails fast.
    const exporter = new OtlpExporter({
      endpoint: 'http://127.0.0.1:9',
      serviceName: 's',
      logger: silent,
      spans: metrics.traceSpans,
      maxQueueSize: 3,
      maxBatchSize: 10,
    });
    const count = async (outcome: string) =>
      (await metrics.traceSpans.get()).values.find((v) => v.labels.outcome === outcome)?.value;
    expect(await count('exported')).toBe(0);
    for (let i = 0; i < 5; i++) exporter.export(span);
    await expect(exporter.shutdown()).resolves.toBeUndefined();
    expect(await metrics.metrics()).toContain(
      [
        'herald_trace_spans_total{outcome="exported",service="unit"} 0',
        'herald_trace_spans_total{outcome="dropped",service="unit"} 2',
        'herald_trace_spans_total{outcome="failed",service="unit"} 3',
      ].join('\n'),
    );
    exporter.export(span);
    expect(await count('dropped')).toBe(3);
  });
});
