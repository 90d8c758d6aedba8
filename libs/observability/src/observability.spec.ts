import { loadConfig } from '@herald/config';
import { createObservability } from './observability';
import { observabilityConfig } from './observability.config';

describe('createObservability', () => {
  it('shows spans its exporter could not send on the process metrics', async () => {
    const { observability: config } = loadConfig(
      { observability: observabilityConfig },
      // Port 9 (discard) on localhost: nothing listens, so the export fails fast.
      { LOG_LEVEL: 'silent', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' },
    );
    const { tracer, metrics } = createObservability('unit', config);
    tracer
      .startSpan('herald.ingest', {
        kind: 'server',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      })
      .end();
    await tracer.shutdown();
    expect(await metrics.metrics()).toContain(
      'herald_trace_spans_total{outcome="failed",service="unit"} 1',
    );
  });
});
