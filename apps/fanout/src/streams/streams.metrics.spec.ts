import { MetricsRegistry } from '@herald/observability';
import { StreamsMetrics } from './streams.metrics';

async function filterErrors(registry: MetricsRegistry): Promise<Record<string, number>> {
  const metric = registry.registry.getSingleMetric('herald_stream_filter_errors_total');
  const { values } = await metric!.get();
  return Object.fromEntries(values.map((v) => [String(v.labels['transport']), v.value]));
}

describe('StreamsMetrics', () => {
  it('reports herald_stream_filter_errors_total at 0 for every transport, then each failure', async () => {
    const registry = new MetricsRegistry('herald-fanout');
    const metrics = new StreamsMetrics(registry);
    expect(await filterErrors(registry)).toEqual({ sse: 0, ws: 0, poll: 0 });

    metrics.filterFailed('ws');
    metrics.filterFailed('ws');
    metrics.filterFailed('poll');
    expect(await filterErrors(registry)).toEqual({ sse: 0, ws: 2, poll: 1 });
  });
});
